import 'reflect-metadata';
import { createRequire } from 'node:module';
import { plainToInstance, Type } from 'class-transformer';
import type * as ClassValidator from 'class-validator';
import type { ValidationArguments, ValidationError, ValidatorOptions } from 'class-validator';
import semver from 'semver';
import type { DefinitionIssue } from './errors.js';
import type { JsonSchema } from './schema-compiler.js';
import { STREAMING_MODES, type StreamingMode } from './streaming-mode.js';

// class-validator's index loads every rule it has, with validator.js and libphonenumber-js: some
// 300 modules and 8 MB of memory in every process that defines a capability. These rules need 14
// of its files, loaded one by one (its CommonJS build has no export map to stop that).
const requireCjs = createRequire(import.meta.url);
function rule<K extends keyof typeof ClassValidator>(path: string, name: K): (typeof ClassValidator)[K] {
  return (requireCjs(`class-validator/cjs/${path}.js`) as Pick<typeof ClassValidator, K>)[name];
}
const IsArray = rule('decorator/typechecker/IsArray', 'IsArray');
const IsBoolean = rule('decorator/typechecker/IsBoolean', 'IsBoolean');
const IsInt = rule('decorator/typechecker/IsInt', 'IsInt');
const IsObject = rule('decorator/typechecker/IsObject', 'IsObject');
const IsString = rule('decorator/typechecker/IsString', 'IsString');
const IsDefined = rule('decorator/common/IsDefined', 'IsDefined');
const IsIn = rule('decorator/common/IsIn', 'IsIn');
const IsOptional = rule('decorator/common/IsOptional', 'IsOptional');
const ValidateBy = rule('decorator/common/ValidateBy', 'ValidateBy');
const ValidateNested = rule('decorator/common/ValidateNested', 'ValidateNested');
const Matches = rule('decorator/string/Matches', 'Matches');
const MaxLength = rule('decorator/string/MaxLength', 'MaxLength');
const Min = rule('decorator/number/Min', 'Min');
const Validator = rule('validation/Validator', 'Validator');

function validateSync(object: object, options: ValidatorOptions): ValidationError[] {
  return new Validator().validateSync(object, options);
}

/**
 * The rules on the fields of a capability definition, as class-validator decorators: presence,
 * types, the id pattern, semver, enums and `resources` ranges. Rules that need an index in the
 * message (`errorCodes[i]`) or ajv (schema compilation) live in capability-definition.ts.
 */

const ID_PATTERN = /^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*){1,2}$/;
const ID_MAX_LENGTH = 128;
/** `type/subtype` (RFC 6838 names), lower case, no parameters; `type/*` allowed. */
const MEDIA_TYPE_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]{0,126})$/;

/** Fields in the order messages list them; also the set of fields a definition may have. */
export const DEFINITION_FIELDS = [
  'id',
  'version',
  'description',
  'inputSchema',
  'outputSchema',
  'errorCodes',
  'streaming',
  'resources',
  'idempotent',
  'inputMediaTypes',
] as const;
export const RESOURCE_FIELDS = ['gpu', 'maxConcurrency', 'memoryMb'] as const;

/** `(got <value>)`, the tail of messages that quote the offending value. */
function got(args: ValidationArguments): string {
  return `(got ${JSON.stringify(args.value) ?? String(args.value)})`;
}

/** Accepts what `semver.valid` accepts, written canonically so that `id@version` keys are unique. */
function IsSemverVersion(): PropertyDecorator {
  return ValidateBy({
    name: 'semver',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'string' &&
        semver.valid(value) !== null &&
        /^\d/.test(value) &&
        value === value.trim(),
      defaultMessage: (args?: ValidationArguments) => {
        const value: unknown = args?.value;
        return typeof value === 'string' && semver.valid(value) !== null
          ? `must be written without a prefix or spaces, e.g. "${semver.valid(value)}" ${got(args as ValidationArguments)}`
          : `must be a semver version ${got(args as ValidationArguments)}`;
      },
    },
  });
}

/** JSON Schema documents are objects or booleans; arrays and scalars are not schemas. */
function IsSchemaValue(): PropertyDecorator {
  return ValidateBy({
    name: 'schemaType',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value)),
      defaultMessage: () => 'must be a JSON Schema (an object or a boolean)',
    },
  });
}

const POSITIVE_INT = { message: (args: ValidationArguments) => `must be an integer >= 1 ${got(args)}` };

/**
 * The shape class-validator checks for `resources`. Property decorators apply bottom-up, so the
 * bottom one is checked first; with `stopAtFirstError` only the first failure per field is
 * reported. Each field therefore lists its narrowest rule on top and its type check at the bottom,
 * so that `"4"` is reported as the wrong type rather than as out of range.
 */
class ResourcesShape {
  @IsOptional()
  @IsBoolean({ message: (args: ValidationArguments) => `must be a boolean ${got(args)}` })
  gpu?: boolean;

  @IsOptional()
  @Min(1, POSITIVE_INT)
  @IsInt(POSITIVE_INT)
  maxConcurrency?: number;

  @IsOptional()
  @Min(1, POSITIVE_INT)
  @IsInt(POSITIVE_INT)
  memoryMb?: number;
}

/**
 * The shape class-validator checks for a whole definition (schemas are compiled separately).
 * Decorator order is bottom-up, as in {@link ResourcesShape}; `IsDefined` is always checked first.
 */
class DefinitionShape {
  @IsDefined({ message: 'is required' })
  @Matches(ID_PATTERN, {
    message: (args: ValidationArguments) =>
      `must be "verb.noun" or "verb.noun.variant", lower-case segments of [a-z][a-z0-9-]* ${got(args)}`,
  })
  @MaxLength(ID_MAX_LENGTH, { message: `must be at most ${ID_MAX_LENGTH} characters` })
  @IsString({ message: (args: ValidationArguments) => `must be a string ${got(args)}` })
  id!: string;

  @IsDefined({ message: 'is required' })
  @IsSemverVersion()
  @IsString({ message: (args: ValidationArguments) => `must be a string ${got(args)}` })
  version!: string;

  @IsOptional()
  @IsString({ message: (args: ValidationArguments) => `must be a string ${got(args)}` })
  description?: string;

  @IsDefined({ message: 'is required' })
  @IsSchemaValue()
  inputSchema!: JsonSchema;

  @IsDefined({ message: 'is required' })
  @IsSchemaValue()
  outputSchema!: JsonSchema;

  @IsOptional()
  @IsArray({ message: (args: ValidationArguments) => `must be an array of error codes ${got(args)}` })
  errorCodes?: unknown[];

  @IsOptional()
  @IsIn(STREAMING_MODES, {
    message: (args: ValidationArguments) => `must be one of ${STREAMING_MODES.join(', ')} ${got(args)}`,
  })
  streaming?: StreamingMode;

  @IsOptional()
  @ValidateNested()
  @IsObject({ message: (args: ValidationArguments) => `must be an object ${got(args)}` })
  @Type(() => ResourcesShape)
  resources?: ResourcesShape;

  @IsOptional()
  @IsBoolean({ message: (args: ValidationArguments) => `must be a boolean ${got(args)}` })
  idempotent?: boolean;

  @IsOptional()
  @Matches(MEDIA_TYPE_PATTERN, {
    each: true,
    message: (args: ValidationArguments) =>
      `must be media types without parameters, e.g. "application/pdf" ${got(args)}`,
  })
  @IsArray({ message: (args: ValidationArguments) => `must be an array of media types ${got(args)}` })
  inputMediaTypes?: string[];
}

function issuesFromClassValidator(errors: readonly ValidationError[], prefix = ''): DefinitionIssue[] {
  return errors.flatMap((error) => {
    const field = `${prefix}${error.property}`;
    const own = Object.entries(error.constraints ?? {}).map(([rule, message]) => ({
      field,
      rule: rule === 'isDefined' ? 'required' : rule,
      message,
    }));
    return [...own, ...issuesFromClassValidator(error.children ?? [], `${field}.`)];
  });
}

/**
 * Checks the known fields of a definition against the decorator rules; `known` must hold only
 * definition fields (unknown ones are reported by the caller, before class-transformer sees them).
 */
export function checkDefinitionShape(known: Record<string, unknown>): DefinitionIssue[] {
  const shape = plainToInstance(DefinitionShape, known);
  return issuesFromClassValidator(validateSync(shape, { stopAtFirstError: true, forbidUnknownValues: true }));
}

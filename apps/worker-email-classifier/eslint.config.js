import workspace from '../../eslint.config.js';

// The train target compiles into tmp/ and writes the model into model/: outputs, not sources.
export default [...workspace, { ignores: ['tmp', 'model'] }];

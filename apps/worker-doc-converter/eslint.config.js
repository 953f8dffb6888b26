import workspace from '../../eslint.config.js';

export default [
  ...workspace,
  {
    files: ['**/*.ts'],
    // Cycles are looked for in our code only: following imports into @gutenye/ocr-node reaches
    // its own copy of sharp, whose native binding the import resolver cannot load, and lint crashes.
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
];

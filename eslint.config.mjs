import oclif from 'eslint-config-oclif'

export default [
  {ignores: ['dist/', 'node_modules/', 'coverage/', '.bench/', 'test/django/*.py']},
  ...oclif,
  {
    rules: {
      // JSDoc only on the public contracts (adapter, codec); comments elsewhere say why, not what.
      'jsdoc/require-jsdoc': 'off',
      'jsdoc/require-param': 'off',
      'jsdoc/require-returns': 'off',
      'jsdoc/require-param-description': 'off',
      'jsdoc/require-returns-description': 'off',
      'jsdoc/tag-lines': 'off',
      // Test files and scripts run with tsx from TypeScript sources.
      'n/no-unpublished-import': 'off',
      'n/no-missing-import': 'off',
      'import/no-unresolved': 'off',
      'no-await-in-loop': 'off',
      'unicorn/no-process-exit': 'off',
      'n/no-process-exit': 'off',
      'unicorn/prefer-code-point': 'off',
      'unicorn/prefer-top-level-await': 'off',
      'unicorn/prevent-abbreviations': 'off',
      'unicorn/no-array-reduce': 'off',
      'unicorn/no-null': 'off',
      'unicorn/prefer-event-target': 'off',
      'max-params': ['error', 6],
      'mocha/no-setup-in-describe': 'off',
      'mocha/max-top-level-suites': 'off',
      'no-warning-comments': 'off',
      'camelcase': 'off',
      'complexity': 'off',
      'max-depth': 'off',
      'perfectionist/sort-switch-case': 'off',
    },
  },
]

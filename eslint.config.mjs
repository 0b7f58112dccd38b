import oclif from 'eslint-config-oclif'

export default [
  {ignores: ['dist/', 'node_modules/', 'coverage/', '.bench/', 'test/django/*.py', 'test/support/*.py']},
  ...oclif,
  {
    rules: {
      camelcase: 'off',
      complexity: 'off',
      'import/no-unresolved': 'off',
      // JSDoc only on the public contracts (adapter, codec); comments elsewhere say why, not what.
      'jsdoc/require-jsdoc': 'off',
      'jsdoc/require-param': 'off',
      'jsdoc/require-param-description': 'off',
      'jsdoc/require-returns': 'off',
      'jsdoc/require-returns-description': 'off',
      'jsdoc/tag-lines': 'off',
      'max-depth': 'off',
      'max-params': ['error', 6],
      'mocha/max-top-level-suites': 'off',
      'mocha/no-setup-in-describe': 'off',
      'n/no-missing-import': 'off',
      'n/no-process-exit': 'off',
      // Test files and scripts run with tsx from TypeScript sources.
      'n/no-unpublished-import': 'off',
      'no-await-in-loop': 'off',
      // TypeScript checks names; no-undef does not understand type-only imports.
      'no-undef': 'off',
      'no-warning-comments': 'off',
      'perfectionist/sort-switch-case': 'off',
      // Object keys follow meaning (JSON output is read by people), not the alphabet.
      'perfectionist/sort-objects': 'off',
      'perfectionist/sort-interfaces': 'off',
      'perfectionist/sort-object-types': 'off',
      'unicorn/no-array-reduce': 'off',
      'unicorn/no-null': 'off',
      'unicorn/no-process-exit': 'off',
      'unicorn/prefer-code-point': 'off',
      'unicorn/consistent-function-scoping': 'off',
      'unicorn/prefer-event-target': 'off',
      'unicorn/prefer-top-level-await': 'off',
      'unicorn/prevent-abbreviations': 'off',
    },
  },
  {
    // The conformance suite is a library of tests that each adapter's test file runs.
    files: ['test/stores/contract-suite.ts'],
    rules: {'mocha/no-exports': 'off'},
  },
]

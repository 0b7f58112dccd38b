export * from './compression/index.js'

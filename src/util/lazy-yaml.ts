// The YAML parser, loaded on first use. `attest` with the built-in policy and
// an audit of a JSON inventory parse no YAML at all, and loading the package
// is 25–50 ms of a command's start-up. (A synchronous require, because the
// policy and inventory loaders are synchronous; `yaml`'s Node entry point is
// the same CommonJS module an `import` would load.)

import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');

let loaded: YamlModule | undefined;

export function yamlLibrary(): YamlModule {
  // not named `require`: the bundle's banner declares one in the same scope
  loaded ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return loaded;
}

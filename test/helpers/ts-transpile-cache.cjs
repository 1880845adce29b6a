// tap runs the tests through ts-node (transpile-only), which transpiles every TypeScript file a
// test file imports again in each test file's process: about 2 s of CPU for a test file that
// imports the gateway. This transpiler, named in tsconfig.json ("ts-node"), gives ts-node the
// same output (TypeScript's own transpileModule with the project's options) from a cache on disk
// shared by those processes. (Custom transpilers are for transpile-only: with tap's --typecheck
// ts-node refuses it and says so.)
'use strict';
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const CACHE = join(tmpdir(), `phygate-tap-ts-${process.getuid?.() ?? 'user'}`);

exports.create = ({ service, nodeModuleEmitKind }) => {
  const ts = require(service.projectLocalResolveHelper('typescript', true));
  // ts-node emits ES modules as NodeNext with the file taken for ESM; transpileModule cannot be
  // told the file's format, and for a file taken as ESM NodeNext emits what ESNext emits.
  const module = nodeModuleEmitKind === 'nodeesm' ? ts.ModuleKind.ESNext : nodeModuleEmitKind === 'nodecjs' ? ts.ModuleKind.CommonJS : service.config.options.module;
  const compilerOptions = { ...service.config.options, module, ...(module === ts.ModuleKind.ESNext ? { moduleResolution: ts.ModuleResolutionKind.Bundler } : {}) };
  const salt = `${ts.version}\0${JSON.stringify(compilerOptions)}`;
  return {
    transpile(input, { fileName }) {
      const file = join(CACHE, `${createHash('sha256').update(`${salt}\0${fileName}\0${input}`).digest('hex')}.json`);
      try {
        return JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        // not cached yet
      }
      const { outputText, sourceMapText, diagnostics } = ts.transpileModule(input, { fileName, compilerOptions, reportDiagnostics: true });
      const out = { outputText, sourceMapText };
      if (diagnostics?.length) return { ...out, diagnostics };
      try {
        mkdirSync(CACHE, { recursive: true });
        const tmp = `${file}.${process.pid}`;
        writeFileSync(tmp, JSON.stringify(out));
        renameSync(tmp, file);
      } catch {
        // a cache that cannot be written only costs time
      }
      return out;
    },
  };
};

#!/usr/bin/env node
// The `phygate` command. The sources are TypeScript; tsx's loader runs them without a build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./commands.ts');
process.exitCode = await runCli(process.argv.slice(2));

/** The browser consumer: the shared program's result (or its error) on the page for the test to read. */
import { run } from './app.js';

(globalThis as { __result?: Promise<unknown> }).__result = run().catch((e: Error) => ({ error: e.stack ?? String(e) }));

// Registers tsx's TypeScript loader in a worker thread. `node --import tsx` registers it on
// the main thread only (privatenumber/tsx#354), so a worker that imports .ts files needs
// this first: DataParallel.create({ ..., preload: [new URL('…/scripts/tsx-worker.mjs', import.meta.url)] }).
import { register } from 'tsx/esm/api';

register();

// Bundle entry of the action (dist/index.js).
import { run } from './action/main.js';

await run();

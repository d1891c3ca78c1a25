// The memory engine against the shared engine contract.

import { MemoryEngine } from './memory-engine.js';
import { runEngineContract } from './engine-contract.js';

runEngineContract('MemoryEngine', () => new MemoryEngine());

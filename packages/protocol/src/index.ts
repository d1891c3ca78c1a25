// Public surface of @switchyard/protocol: shared by the server, the client SDK and the dashboard.

export * from './frames.js';
export * from './error-codes.js';
export * from './close-codes.js';
export * from './channel.js';
export * from './schemas.js';
export * from './codec.js';
export * from './feeds.js';

// Public surface of the `switchyard` server package.

export { createSwitchyard, Switchyard } from './switchyard.js';
export type { SwitchyardEvents, SwitchyardInit, ListenAddress } from './switchyard.js';
export { defaultOptions, namespaceDefaults, builtInNamespaces, optionDescriptions, resolveOptions, OptionsError } from './options.js';
export type { SwitchyardOptions, NamespaceOptions } from './options.js';
export { SwitchyardError } from './errors.js';
export type { Engine, EngineHandler, PublishRequest, PublishResult, StreamPolicy, HistoryQuery, HistoryResult, RecoveryResult, NodeInfo } from './engine/engine.js';
export { MemoryEngine } from './engine/memory-engine.js';
export type { Authenticator, Identity, ChannelPermissions } from './auth/identity.js';
export { JwtAuthenticator } from './auth/jwt-authenticator.js';
export type { SwitchyardHooks, AuthorizeRequest } from './session.js';
export { FANOUT_PASS_CHANNEL } from './transport/ws.js';
export type { FanOutPass } from './transport/ws.js';

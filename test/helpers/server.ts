// Starts a real Switchyard server on a free loopback port for a test.

import { createSwitchyard, type Switchyard, type SwitchyardOptions, type SwitchyardInit } from 'switchyard';

/** A running test server and its URLs. */
export interface TestServer {
  server: Switchyard;
  port: number;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/** Start a server on 127.0.0.1 (port 0 unless given), quiet and without the demo feed unless asked. */
export async function startServer(options: Partial<SwitchyardOptions> = {}, init: SwitchyardInit = {}): Promise<TestServer> {
  const server = createSwitchyard({ port: 0, host: '127.0.0.1', logLevel: 'silent', demo: false, ...options }, init);
  const address = await server.listen();
  if (address === undefined) throw new Error('server did not report an address');
  return { server, port: address.port, url: address.url.replace('localhost', '127.0.0.1'), wsUrl: address.wsUrl.replace('localhost', '127.0.0.1'), close: () => server.close() };
}

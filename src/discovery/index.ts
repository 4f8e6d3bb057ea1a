/**
 * Service discovery: how users reach a service at whichever site is active. A built-in authoritative DNS
 * server (with TSIG-signed RFC 2136 updates and peers that converge), publishers for the built-in servers,
 * for external servers (RFC 2136) and for moving addresses, all behind one `Publisher` interface.
 */
export { DnsServer } from './server.ts';
export type { ServerOptions } from './server.ts';
export type { ServerKeys } from './tsig.ts';
export { ZoneStore } from './zone.ts';
export type { Rr, DynamicRecords } from './zone.ts';
export { PeerSync } from './sync.ts';
export type { PeerStatus, PeerSyncOptions } from './sync.ts';
export { BuiltinPublisher, parseEpochTxt, endpointName } from './publisher.ts';
export type { Publisher, PublishResult, LiveState } from './publisher.ts';
export { Rfc2136Publisher } from './rfc2136.ts';
export { AddressPublisher } from './address.ts';
export { parseKey, sign, verify } from './tsig.ts';
export type { TsigKey } from './tsig.ts';
export { query, exchange } from './client.ts';
export type { Endpoint } from './client.ts';
export { DEFAULT_TTL, normalizeName } from './records.ts';
export type { ServiceDef, ZoneDef, SiteAnswers, ServiceState } from './records.ts';
export { discoveryService, zoneStore, serverKeys, publishers, tsigKeys } from './setup.ts';
export type { DiscoverySettings } from './setup.ts';

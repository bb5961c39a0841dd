/**
 * The client protocol and the partition hash, shared by `@tessera/client` and the nodes of
 * `@tessera/partitions`. Import from `@tessera/client/protocol`.
 */
export { fnv1a32, fnv1a32String, routingKey, partitionOf } from './hash.js';
export { FrameDecoder, encodeFrame, packr, FRAME_HEADER_BYTES, DEFAULT_MAX_FRAME_BYTES } from './frame.js';
export * from './messages.js';
export { errorToWire, errorFromWire } from '../errors.js';

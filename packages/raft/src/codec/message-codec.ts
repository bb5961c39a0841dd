/**
 * Binary encoding of a batch of Raft messages from one node to another, shared by every network
 * transport. Hand-rolled rather than msgpack because it is the hot path of replication: entry
 * payloads are copied once into the output and decoded as zero-copy views, integers are varints,
 * and what consecutive messages and AppendEntries entries repeat (the group; consecutive indexes,
 * one term, one entry type) is sent once. Encoding and decoding are in encode.ts and decode.ts.
 *
 * Layout (version 2):
 *   batch   := u8 version, str from, str to, varint count, message*
 *   message := u8 type, u8 flags, [str group unless flags & 16], varint term, logTerm, index, commit,
 *              rejectHint, context, varint nEntries, [varint term, u8 type if flags & 8], entry*,
 *              [snapshot if flags & 2]
 *   flags   := 1 reject | 2 snapshot | 4 entry i has index (message index + 1 + i) | 8 every entry has
 *              the (term, type) given once | 16 same group as the previous message of the batch.
 *              4 and 8 only with entries; AppendEntries with entries needs 4; 16 not on the first message
 *   entry   := [varint index unless flags & 4], [varint term, u8 type unless flags & 8], bytes data
 *   snapshot:= varint index, varint term, strlist voters, strlist learners, varint offset, u8 done, bytes data
 *   str     := varint length, utf-8;  bytes := varint length, raw;  strlist := varint count, str*
 * Varints are unsigned LEB128 below 2^53 in their shortest form (a longer one is refused). No part
 * of a message takes more bytes than in version 1, so size bounds computed for version 1 still hold.
 *
 * Version 1 (never deployed) had flags after the six varints, the group on every message and index,
 * term and type on every entry; version 2 is 6% smaller for one-entry AppendEntries and takes
 * one or two bytes of framing per entry instead of four to seven in a typical AppendEntries batch.
 */
export { CODEC_VERSION } from './format.js';
export { batchBound, encodeBatch, encodeBatchInto } from './encode.js';
export { decodeBatch, type DecodedBatch } from './decode.js';

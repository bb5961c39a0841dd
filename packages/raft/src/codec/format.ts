/**
 * Constants of the batch wire format (see the layout in `message-codec.ts`). Every value here is
 * part of the format: changing one needs a new {@link CODEC_VERSION}.
 */

/**
 * Version byte at the start of every batch. 2: flags right after the type, flags 4, 8 and 16 (entry
 * indexes implied by the previous index; one term and type for all entries; the previous message's
 * group), shortest-form varints only. Version 1 carried index, term and type on every entry and the
 * group on every message.
 */
export const CODEC_VERSION = 2;

/** Message flag: `reject` is true. */
export const F_REJECT = 1;
/** Message flag: a snapshot chunk follows the entries. */
export const F_SNAPSHOT = 2;
/** Message flag: entry `i` has index `message.index + 1 + i`; entries carry no index. */
export const F_SEQUENTIAL = 4;
/** Message flag: one (term, type) pair follows the entry count; entries carry neither. */
export const F_UNIFORM = 8;
/** Message flag: the group is the previous message's; the message carries none. */
export const F_SAME_GROUP = 16;
export const KNOWN_FLAGS = F_REJECT | F_SNAPSHOT | F_SEQUENTIAL | F_UNIFORM | F_SAME_GROUP;

/** Largest bytes a varint may take (values below 2^53 need at most 8 groups of 7 bits). */
export const MAX_VARINT_BYTES = 8;
/** Fewest bytes a message can take: type, flags, six one-byte varints, entry count (group omitted). */
export const MIN_MESSAGE_BYTES = 9;

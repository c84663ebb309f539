/**
 * What the PostgreSQL adapters of the decision store and the reference ACL service share, kept
 * once so that they cannot drift apart.
 */

/** The schema a store's tables live in when none is configured. */
export const DEFAULT_SCHEMA = 'public';

/** pg's own default: each call holds a connection for one short statement, so ten serve a
 * process's concurrent requests without crowding the server's `max_connections`. */
export const DEFAULT_POOL_SIZE = 10;

/**
 * How many inserts an insert-or-find on a unique key makes at most. The row that won the key can
 * be deleted between our conflicting insert and our read of it; then the key is free and one
 * more insert settles it. A third round covers one more such deletion; more means something is
 * deleting rows in a loop, and the caller fails rather than spin.
 */
export const CREATE_ROUNDS = 3;

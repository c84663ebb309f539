-- Acks the handled message and appends the next one (of another topic), or neither. Its keys
-- come from two partitions, so it needs a standalone server (as the blocking read does).
-- KEYS[1] stream, KEYS[2] leases: the handled message's partition;
-- KEYS[3] stream, KEYS[4] delayed: the next message's partition.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] deliveries (the lease),
-- ARGV[5] maxLength, ARGV[6] key, ARGV[7] payload, ARGV[8] publishedAt (the next message).
-- Returns 1; 0 when the lease was lost; the error QUEUE_FULL when the next partition is full.
if not holds(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
local full = refuseWhenFull(KEYS[3], KEYS[4], ARGV[5])
if full then return full end
append(KEYS[3], ARGV[6], ARGV[7], '0', ARGV[8])
removeLive(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1

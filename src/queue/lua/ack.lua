-- Removes a handled message, if its lease still holds it.
-- KEYS[1] stream, KEYS[2] leases: the partition's.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] deliveries (the lease).
-- Returns 1, or 0 when the lease was lost.
if not holds(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
removeLive(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1

package resp

import "strconv"

// Error texts of Redis 7.2 that only the store's commands send.
var (
	ErrDecrementOverflow = NewError("ERR decrement would overflow")
	ErrValueOutOfRange   = NewError("ERR value is out of range")
	ErrSameObject        = NewError("ERR source and destination objects are the same")
	ErrCopyCrossDB       = NewError("ERR Copying to another database is not allowed in cluster mode")
	ErrLFUNotSelected    = NewError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	ErrLFUSelected = NewError("ERR An LFU maxmemory policy is selected, idle time not tracked. " +
		"Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	ErrLCSNotStrings = NewError("ERR The specified keys must contain string values")
	ErrLCSLenAndIdx  = NewError("ERR If you want both the length and indexes, please just use IDX.")
	ErrLCSMemory     = NewError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
)

// ErrValueBetween returns Redis's error for an integer argument outside
// [min, max] (getRangeLongFromObjectOrReply without a message of its own).
func ErrValueBetween(min, max int64) *Error {
	return NewError("ERR value is out of range, value must between " +
		strconv.FormatInt(min, 10) + " and " + strconv.FormatInt(max, 10))
}

// ErrInternalArgs returns the error for malformed arguments of one of
// raftcache's internal commands (raftcache.tx, raftcache.scan, ...), which
// only the server sends.
func ErrInternalArgs(cmd string) *Error {
	return NewError("ERR invalid arguments for internal command '" + cmd + "'")
}

package resp

import (
	"bytes"
	"errors"
	"strings"
)

// Error is a Redis error reply: its text starts with the error code (ERR,
// WRONGTYPE, MOVED, ...) exactly as Redis writes it, without the leading '-'.
// Errors are values: compare them with errors.Is.
type Error struct {
	msg string
}

// NewError returns an Error with the given text.
func NewError(msg string) *Error { return &Error{msg: msg} }

// Errorf-style helpers are deliberately absent: every fixed text is defined
// once below, and the few texts that carry data are built by the functions
// after it.

func (e *Error) Error() string { return e.msg }

// Code returns the first word of the error, such as "ERR" or "MOVED".
func (e *Error) Code() string {
	if i := strings.IndexByte(e.msg, ' '); i >= 0 {
		return e.msg[:i]
	}
	return e.msg
}

// Reply returns the error as a reply.
func (e *Error) Reply() Reply { return Reply{Kind: KindError, Str: []byte(e.msg)} }

// The fixed error texts of Redis 7.2 that raftcache sends.
var (
	ErrWrongType       = NewError("WRONGTYPE Operation against a key holding the wrong kind of value")
	ErrSyntax          = NewError("ERR syntax error")
	ErrNotInteger      = NewError("ERR value is not an integer or out of range")
	ErrNotFloat        = NewError("ERR value is not a valid float")
	ErrOverflow        = NewError("ERR increment or decrement would overflow")
	ErrIncrNaN         = NewError("ERR increment would produce NaN or Infinity")
	ErrNaNOrInf        = NewError("ERR value is NaN or Infinity")
	ErrHashNotInteger  = NewError("ERR hash value is not an integer")
	ErrHashNotFloat    = NewError("ERR hash value is not a float")
	ErrNoSuchKey       = NewError("ERR no such key")
	ErrDBIndex         = NewError("ERR DB index is out of range")
	ErrSelectCluster   = NewError("ERR SELECT is not allowed in cluster mode")
	ErrNoAuth          = NewError("NOAUTH Authentication required.")
	ErrOOM             = NewError("OOM command not allowed when used memory > 'maxmemory'.")
	ErrWrongPass       = NewError("WRONGPASS invalid username-password pair or user is disabled.")
	ErrAuthNotSet      = NewError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	ErrProtoVersion    = NewError("NOPROTO unsupported protocol version")
	ErrOutOfRange      = NewError("ERR offset is out of range")
	ErrStringTooLong   = NewError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
	ErrNestedMulti     = NewError("ERR MULTI calls can not be nested")
	ErrExecNoMulti     = NewError("ERR EXEC without MULTI")
	ErrDiscardNoMulti  = NewError("ERR DISCARD without MULTI")
	ErrWatchInMulti    = NewError("ERR WATCH inside MULTI is not allowed")
	ErrExecAbort       = NewError("EXECABORT Transaction discarded because of previous errors.")
	ErrCrossSlot       = NewError("CROSSSLOT Keys in request don't hash to the same slot")
	ErrClusterDown     = NewError("CLUSTERDOWN The cluster is down")
	ErrNoSuchClient    = NewError("ERR No such client")
	ErrTimeoutNegative = NewError("ERR timeout is negative")
	ErrInvalidCursor   = NewError("ERR invalid cursor")
)

// ErrWrongArgs returns Redis's arity error for the command name (as the
// client typed it, lower-cased by Redis).
func ErrWrongArgs(name string) *Error {
	return NewError("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command")
}

// ErrUnknownCommand returns Redis's error for an unknown command, quoting
// the name and up to the first arguments as Redis does.
func ErrUnknownCommand(args [][]byte) *Error {
	// Redis formats with "%.128s" and "'%.*s' ": each text ends at its
	// first NUL, the name is cut to 128 bytes, and arguments are quoted
	// while the quoted list is shorter than 128 bytes, each cut to what is
	// left of those 128.
	var quoted []byte
	for _, a := range args[1:] {
		if len(quoted) >= 128 {
			break
		}
		room := 128 - len(quoted)
		quoted = append(quoted, '\'')
		quoted = append(quoted, cString(a, room)...)
		quoted = append(quoted, '\'', ' ')
	}
	return NewError("ERR unknown command '" + sanitizeString(string(cString(args[0], 128))) +
		"', with args beginning with: " + sanitizeString(string(quoted)))
}

// ErrUnknownSubcommand returns Redis's error for an unknown subcommand of a
// container command such as CLIENT or CONFIG.
func ErrUnknownSubcommand(container, sub []byte) *Error {
	return NewError("ERR unknown subcommand '" + sanitizeString(string(cString(sub, 128))) +
		"'. Try " + strings.ToUpper(string(container)) + " HELP.")
}

// ErrSubcommandSyntax returns Redis's error for a known subcommand given
// arguments it does not take (addReplySubcommandSyntaxError).
func ErrSubcommandSyntax(container, sub []byte) *Error {
	return NewError("ERR unknown subcommand or wrong number of arguments for '" +
		sanitizeString(string(cString(sub, 128))) + "'. Try " + strings.ToUpper(string(container)) + " HELP.")
}

// ErrWrongSubArgs returns Redis's arity error for a subcommand.
func ErrWrongSubArgs(container, sub string) *Error {
	return NewError("ERR wrong number of arguments for '" + strings.ToLower(container) + "|" +
		strings.ToLower(sub) + "' command")
}

// ErrorReply converts any error into an error reply. A *Error keeps its
// text; any other error is reported under the ERR code.
func ErrorReply(err error) Reply {
	var re *Error
	if errors.As(err, &re) {
		return re.Reply()
	}
	msg := err.Error()
	return Reply{Kind: KindError, Str: []byte("ERR " + sanitizeString(msg))}
}

// sanitize trims b to max bytes and replaces CR and LF, which would break
// the single-line error reply, with spaces, as Redis does.
func sanitize(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	return sanitizeString(string(b))
}

// cString returns b as C's "%.*s" prints it: up to its first NUL, at most
// max bytes.
func cString(b []byte, max int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}

func sanitizeString(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

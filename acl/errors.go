package acl

import (
	"bytes"
	"strconv"

	"github.com/raftcache/raftcache/resp"
)

// The error texts of Redis 7.2's ACL code, each defined once. resp holds
// the texts every layer shares; these are detected here, the lowest layer
// that knows about users, and are built on resp.Error so the server sends
// them as it sends any other error.
var (
	// ErrUsernameSpaces answers ACL SETUSER with a name holding a space,
	// a control character that isspace accepts, or a NUL.
	ErrUsernameSpaces = resp.NewError("ERR Usernames can't contain spaces or null characters")
	// ErrDeleteDefault answers ACL DELUSER default.
	ErrDeleteDefault = resp.NewError("ERR The 'default' user cannot be removed")
	// ErrGenPassBits answers ACL GENPASS with a bit count out of range.
	ErrGenPassBits = resp.NewError("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
	// ErrNoACLFile answers ACL LOAD and ACL SAVE without an aclfile.
	ErrNoACLFile = resp.NewError("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.")
	// ErrSaveFailed answers ACL SAVE when the file could not be written.
	ErrSaveFailed = resp.NewError("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
	// ErrNoPermKey and ErrNoPermChannel are the NOPERM texts of a denied
	// key or channel (Redis 7.2; 7.0 wrote "this user has no permissions
	// to access one of the keys used as arguments").
	ErrNoPermKey     = resp.NewError("NOPERM No permissions to access a key")
	ErrNoPermChannel = resp.NewError("NOPERM No permissions to access a channel")
)

// Reasons ACL SETUSER gives for a refused modifier, as Redis 7.2's
// ACLSetUserStringError words them.
const (
	reasonWrongFormat  = "Wrong format"
	reasonUnknown      = "Unknown command or category name in ACL"
	reasonSyntax       = "Syntax error"
	reasonKeysAfterAll = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid " +
		"and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
	reasonChannelsAfterAll = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid " +
		"and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
	reasonNoSuchPassword = "The password you are trying to remove from the user does not exist"
	reasonBadHash        = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
	reasonSubFirstArg    = "Allowing first-arg of a subcommand is not supported"
)

// RuleError is a refused ACL SETUSER modifier: which one, and why. Its
// Error text is Redis's reply without the "ERR " code; Reply gives the
// whole error reply. Load reports the same reasons in its own words.
type RuleError struct {
	// Rule is the modifier as given (a selector as merged from its
	// arguments).
	Rule []byte
	// Reason is Redis's reason text, such as "Syntax error".
	Reason string
	// unknown: the rule names a command or category that does not exist
	// (Redis's ENOENT), which ACL LOAD reports differently.
	unknown bool
}

func (e *RuleError) Error() string {
	return "Error in ACL SETUSER modifier '" + string(cString(e.Rule)) + "': " + e.Reason
}

// Err returns the error reply Redis sends for e.
func (e *RuleError) Err() *resp.Error { return resp.NewError("ERR " + e.Error()) }

// ParenError is a selector whose opening parenthesis is never closed.
type ParenError struct{ Arg []byte }

func (e *ParenError) Error() string {
	return "Unmatched parenthesis in acl selector starting at '" + string(cString(e.Arg)) + "'."
}

// Err returns the error reply Redis sends for e.
func (e *ParenError) Err() *resp.Error { return resp.NewError("ERR " + e.Error()) }

// ErrUnknownCategory answers ACL CAT with a category Redis does not have;
// Redis quotes at most 128 bytes of it.
func ErrUnknownCategory(name []byte) *resp.Error {
	return resp.NewError("ERR Unknown category '" + string(cut(cString(name), 128)) + "'")
}

// ErrNoPermCommand is the NOPERM text of a command the user may not run
// (Redis 7.2; 7.0 wrote "this user has no permissions to run the '%s'
// command").
func ErrNoPermCommand(user, fullName string) *resp.Error {
	return resp.NewError("NOPERM User " + user + " has no permissions to run the '" + fullName + "' command")
}

// ErrExecChanged is EXEC's reply for a queued command that the user's ACL
// no longer allows when the transaction runs.
func ErrExecChanged(r Reason) *resp.Error {
	var why string
	switch r {
	case ReasonCommand:
		why = "no permission to execute the command or subcommand"
	case ReasonKey:
		why = "no permission to touch the specified keys"
	case ReasonChannel:
		why = "no permission to access one of the channels used as arguments"
	default:
		why = "no permission"
	}
	return resp.NewError("NOPERM ACLs rules changed between the moment the transaction was accumulated " +
		"and the EXEC call. This command is no longer allowed for the following reason: " + why)
}

// ErrDryRunNoUser and ErrDryRunNoCommand answer ACL DRYRUN.
func ErrDryRunNoUser(name []byte) *resp.Error {
	return resp.NewError("ERR User '" + string(cString(name)) + "' not found")
}

// ErrDryRunNoCommand answers ACL DRYRUN naming a command that does not
// exist.
func ErrDryRunNoCommand(name []byte) *resp.Error {
	return resp.NewError("ERR Command '" + string(cString(name)) + "' not found")
}

// cString is b as C's %s prints it: up to its first NUL.
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

func cut(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }

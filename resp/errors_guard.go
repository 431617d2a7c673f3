package resp

// The errors of the connection guard: malformed or oversized requests,
// authentication and admission. The texts are Redis 7.0's (checked against
// redis-server 7.0.15); a protocol error closes the connection after its
// reply, as Redis does.
var (
	ErrProtoInvalidBulkLen      = NewError("ERR Protocol error: invalid bulk length")
	ErrProtoInvalidMultibulkLen = NewError("ERR Protocol error: invalid multibulk length")
	ErrProtoUnbalancedQuotes    = NewError("ERR Protocol error: unbalanced quotes in request")
	ErrProtoTooBigInline        = NewError("ERR Protocol error: too big inline request")
	ErrProtoTooBigMbulkCount    = NewError("ERR Protocol error: too big mbulk count string")
	ErrProtoTooBigBulkCount     = NewError("ERR Protocol error: too big bulk count string")
	ErrProtoUnauthMultibulkLen  = NewError("ERR Protocol error: unauthenticated multibulk length")
	ErrProtoUnauthBulkLen       = NewError("ERR Protocol error: unauthenticated bulk length")

	// ErrNoAuthHello is HELLO's reply on a connection that must
	// authenticate first and gave no AUTH option (Redis 7.0's text).
	ErrNoAuthHello = NewError("NOAUTH HELLO must be called with the client already authenticated, " +
		"otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client " +
		"and select the RESP protocol version at the same time")

	// ErrMaxClients is sent to a connection refused because maxclients
	// connections are open.
	ErrMaxClients = NewError("ERR max number of clients reached")

	// ErrProtectedMode is sent to a connection from a non-loopback address
	// while protected mode is on: raftcache listens on every interface and
	// no password is set. It follows Redis's DENIED message, with
	// raftcache's flags as the remedies.
	ErrProtectedMode = NewError("DENIED raftcache is running in protected mode because protected mode " +
		"is enabled and no password is set for the default user. In this mode connections are only " +
		"accepted from the loopback interface. If you want to connect from external computers to " +
		"raftcache you may adopt one of the following solutions: " +
		"1) Restart raftcache with the '--protected-mode no' option, however MAKE SURE raftcache is " +
		"not publicly accessible from internet if you do so. " +
		"2) Set up an authentication password for the default user with the '--requirepass <password>' " +
		"option and restart raftcache. " +
		"3) Listen only on trusted interfaces by giving a host in '--addr' (for example " +
		"'--addr 10.0.0.5:6379') instead of every interface. " +
		"NOTE: You only need to do one of the above things in order for the server to start " +
		"accepting connections from the outside.")
)

// ErrProtoExpectedDollar returns Redis's error for a multibulk element that
// does not start with '$'. CR and LF print as spaces, as Redis prints them.
func ErrProtoExpectedDollar(got byte) *Error {
	if got == '\r' || got == '\n' {
		got = ' '
	}
	return NewError("ERR Protocol error: expected '$', got '" + string([]byte{got}) + "'")
}

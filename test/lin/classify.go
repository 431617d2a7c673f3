package lin

import (
	"errors"
	"net"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Outcome is what an error says about whether a command took effect.
type Outcome int

const (
	// Done: the command ran; its reply (perhaps an error reply the model
	// predicts, such as WRONGTYPE) is the result.
	Done Outcome = iota
	// NotDone: the command certainly did not run (MOVED, TRYAGAIN,
	// CLUSTERDOWN, a connection that was never made).
	NotDone
	// Unknown: the command may or may not have run (a timeout, a lost
	// connection, raftcache's "ERR write outcome unknown").
	Unknown
)

func (o Outcome) String() string {
	return [...]string{Done: "done", NotDone: "not done", Unknown: "unknown"}[o]
}

// notDonePrefixes are the error replies that mean the command was not
// executed: redirects, and the errors Redis clients retry on their own.
var notDonePrefixes = []string{
	"MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "READONLY", "NOREPLICAS",
	"ERR max number of clients reached",
}

var (
	addrs   = regexp.MustCompile(`[0-9]+(\.[0-9]+){3}:[0-9]+`)
	numbers = regexp.MustCompile(`\b[0-9]+\b`)
)

// Classify sorts the error a go-redis command returned. nil and
// redis.Nil are Done. class is a short name for the report: the reply's
// first word, "timeout", "dial", "conn" (a connection lost with the
// command in flight), or the model's error class for Done errors.
func Classify(err error) (o Outcome, class string) {
	if err == nil || errors.Is(err, redis.Nil) {
		return Done, ""
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		first, _, _ := strings.Cut(msg, " ")
		for _, p := range notDonePrefixes {
			if strings.HasPrefix(msg, p) {
				return NotDone, first
			}
		}
		switch {
		case strings.HasPrefix(msg, ErrWrongType):
			return Done, ErrWrongType
		case msg == ErrNotInteger:
			return Done, ErrNotInteger
		case strings.HasPrefix(msg, "ERR write outcome unknown"):
			return Unknown, "outcome-unknown"
		}
		// Anything else from the server is unexpected for this workload;
		// say so in the report, and assume nothing about it.
		return Unknown, "unexpected: " + numbers.ReplaceAllString(addrs.ReplaceAllString(msg, "<addr>"), "N")
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return NotDone, "dial"
	}
	if strings.Contains(err.Error(), "connection pool timeout") || strings.Contains(err.Error(), "client is closed") {
		return NotDone, "pool"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Unknown, "timeout"
	}
	return Unknown, "conn"
}

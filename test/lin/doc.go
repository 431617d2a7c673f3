// Package lin records histories of Redis operations and checks them for
// linearizability with porcupine, as etcd's robustness tests and Jepsen
// do: a sequential model of the commands the workload sends (GET, SET,
// INCR, DEL, EXPIRE, HSET, HGET), partitioned by key; a Recorder that
// timestamps every operation's invocation and completion; and Classify,
// which sorts a go-redis error into "the command did not run", "the
// command ran and answered this error" and "nobody knows".
//
// An operation whose outcome is unknown (a timeout, a lost connection,
// raftcache's "ERR write outcome unknown") stays open until the end of the
// history: it may take effect at any moment after its invocation, or
// never. An operation that got a definite error (MOVED, TRYAGAIN,
// CLUSTERDOWN, a refused connection) did not happen, and is not in the
// history at all: a value only it wrote, if ever read, is a violation.
//
// The package imports nothing of raftcache (TestImportsNothingOfRaftcache
// keeps it so): the model parses what it needs itself, so a bug in the
// server's parsing cannot hide by being the checker's too.
//
// Only tests import this package.
package lin

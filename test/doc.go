// Package test holds tests that start real raftcache processes: the built
// binary on 127.0.0.1 ports, driven with redis-cli and go-redis, killed
// with SIGKILL and restarted. Production code never imports it.
package test

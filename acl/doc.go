// Package acl is raftcache's ACL engine: Redis 7.2's users, their rules
// and permission checks, restricted to the commands raftcache serves.
//
// A Users set holds the users (copy-on-write: readers take no lock);
// SetUser and DelUser change it as ACL SETUSER and ACL DELUSER do, with
// Redis's error texts. (*User).Check decides whether a user may run a
// command, as Redis's ACLCheckAllUserCommandPerm does, and returns a
// Denial that carries the NOPERM text and the ACL LOG event. List,
// (*User).Reply, Cat and GenPass answer ACL LIST, GETUSER, CAT and
// GENPASS; Log is the ACL LOG. Save and Load read and write the aclfile
// format; MarshalBinary, Restore and the Op type replicate the set
// through a Raft log.
//
// The package takes the command table from resp and the glob matcher
// from store, and nothing else of raftcache. See DESIGN.md for where the
// server calls it and how the set is replicated.
package acl

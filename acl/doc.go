// Package acl is raftcache's ACL engine: Redis 7.2's users, their rules
// and permission checks, restricted to the commands raftcache serves.
//
// Users is the set of users (copy-on-write: readers take no lock, a
// published *User never changes). SetUser and DelUser change it as ACL
// SETUSER and ACL DELUSER do, with Redis's error texts; Authenticate is
// AUTH's check; SetRequirePass maps requirepass to the default user.
//
// (*User).Check decides whether a user may run a command, as Redis's
// ACLCheckAllUserCommandPerm does: the command (or subcommand, or allowed
// first argument), then every key against the patterns that grant what
// the command's key spec does with it. The server calls it after its
// plan is computed (classify: command, subcommand, arity), after the
// NOAUTH and no_multi checks and before any cluster redirect; a Denial
// gives the NOPERM reply and the ACL LOG event.
//
// List, GetUser, Names, CatReply, DryRun and GenPass answer ACL LIST,
// GETUSER, USERS, CAT, DRYRUN and GENPASS; Log is the node's ACL LOG.
// Save/SaveFile and Load/LoadFile are ACL SAVE and ACL LOAD over Redis's
// aclfile format. MarshalBinary/Restore encode the whole set, and Op
// (PrepareSetUser, DelUserOp, LoadOp, RequirePassOp, Encode, DecodeOp,
// Users.Apply) its changes, deterministically, for a Raft log: DESIGN.md
// recommends replicating them through shard 0's group.
//
// The package imports resp (the command table, replies, errors) and store
// (the glob matcher), nothing else of raftcache.
package acl

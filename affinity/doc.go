// Package affinity will hold the persisted, replicated login -> server table
// (issue 4). Nothing routes by affinity yet.
package affinity

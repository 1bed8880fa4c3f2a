package memory

// Store bundles the three stores of one node. A test that keeps a Store and
// starts a new node on it simulates a restart after a crash: everything the
// stores acknowledged survives.
type Store struct {
	Log       *LogStore
	Stable    *StableStore
	Snapshots *SnapshotStore
}

// NewStore returns a Store with three empty stores.
func NewStore() *Store {
	return &Store{
		Log:       NewLogStore(),
		Stable:    NewStableStore(),
		Snapshots: NewSnapshotStore(),
	}
}

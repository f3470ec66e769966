package appliance

import (
	"sync/atomic"

	"github.com/rdpbroker/rdpbroker/routing"
)

// learnCounts counts the no_cookie: learned outcomes of the decisions
// (Decision.Learned).
type learnCounts struct {
	learned, ambiguous, none atomic.Uint64
}

// count counts one decision's outcome ("" counts nothing).
func (l *learnCounts) count(outcome string) {
	switch outcome {
	case routing.LearnedOne:
		l.learned.Add(1)
	case routing.LearnedAmbiguous:
		l.ambiguous.Add(1)
	case routing.LearnedNone:
		l.none.Add(1)
	}
}

// LearnedOutcomes returns how many requests without cookie or usable
// token no_cookie: learned routed as their address's one login
// ("learned"), sent to the policy because their address presented several
// ("ambiguous") or none ("none").
func (b *Broker) LearnedOutcomes() map[string]uint64 {
	return map[string]uint64{
		routing.LearnedOne:       b.learned.learned.Load(),
		routing.LearnedAmbiguous: b.learned.ambiguous.Load(),
		routing.LearnedNone:      b.learned.none.Load(),
	}
}

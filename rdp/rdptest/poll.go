package rdptest

import "time"

// Poll intervals: the first check again after pollFirst, then twice as
// long each time up to pollMax, so a condition that holds at once is seen
// at once and a long wait costs little CPU.
const (
	pollFirst = time.Millisecond
	pollMax   = 20 * time.Millisecond
)

// Poll calls cond until it reports true or timeout passes, and returns
// cond's last answers: whether it held, and why not. It never fails the
// test: for callers that retry or add their own diagnosis.
func Poll(timeout time.Duration, cond func() (ok bool, why string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	wait := pollFirst
	for {
		ok, why := cond()
		if ok || time.Now().After(deadline) {
			return ok, why
		}
		time.Sleep(wait)
		wait = min(2*wait, pollMax)
	}
}

// Eventually waits, polling every few milliseconds, until cond holds, and
// fails the test if it does not within timeout, saying what it waited for:
//
//	rdptest.Eventually(t, 5*time.Second, "ts01 down", func() bool { return !ts01.Healthy() })
func Eventually(t TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if ok, _ := Poll(timeout, func() (bool, string) { return cond(), "" }); !ok {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// EventuallyWhy is Eventually for a cond that says why it does not hold
// yet: it returns "" once it holds, and the test fails with its last
// reason.
func EventuallyWhy(t TB, timeout time.Duration, cond func() (why string)) {
	t.Helper()
	if ok, why := Poll(timeout, func() (bool, string) { why := cond(); return why == "", why }); !ok {
		t.Fatalf("not within %v: %s", timeout, why)
	}
}

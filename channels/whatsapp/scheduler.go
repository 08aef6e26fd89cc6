package whatsapp

import (
	"container/heap"
	"sync"
	"time"

	"github.com/28web/hub/channels/core"
)

// taskKind names what a scheduled task does; a session has at most one pending task per kind.
type taskKind uint8

const (
	taskConnect taskKind = iota + 1
	taskQRRotate
	taskExpire
	taskSweep
)

type taskKey struct {
	session core.SessionID
	kind    taskKind
}

type task struct {
	key   taskKey
	at    time.Time
	fn    func()
	index int
}

type taskHeap []*task

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// scheduler runs delayed tasks for every session from one goroutine and one timer: reconnects
// with backoff, QR rotation, expiry of unpaired sessions and the periodic sweep. Sessions own no
// timers or goroutines of their own, which keeps an idle session as cheap as its whatsmeow
// client. Each due task runs in its own short-lived goroutine so a slow one cannot hold up others.
type scheduler struct {
	mu      sync.Mutex
	tasks   taskHeap
	byKey   map[taskKey]*task
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	started bool
	running sync.WaitGroup
}

func newScheduler() *scheduler {
	return &scheduler{byKey: make(map[taskKey]*task), wake: make(chan struct{}, 1)}
}

// start launches the scheduler goroutine; stop ends it. A stopped scheduler can start again.
func (s *scheduler) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	go s.run(s.stop, s.done)
}

// stopAndWait stops the loop, drops pending tasks and waits for running ones.
func (s *scheduler) stopAndWait() {
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		return
	}
	s.started = false
	close(s.stop)
	done := s.done
	s.tasks = nil
	clear(s.byKey)
	s.mu.Unlock()
	<-done
	s.running.Wait()
}

// schedule runs fn at at, replacing the pending task of the same key.
func (s *scheduler) schedule(key taskKey, at time.Time, fn func()) {
	s.mu.Lock()
	if t, ok := s.byKey[key]; ok {
		t.at, t.fn = at, fn
		heap.Fix(&s.tasks, t.index)
	} else {
		t := &task{key: key, at: at, fn: fn}
		heap.Push(&s.tasks, t)
		s.byKey[key] = t
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pending reports whether a task of key is waiting.
func (s *scheduler) pending(key taskKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byKey[key]
	return ok
}

// cancel drops the pending task of key, if any.
func (s *scheduler) cancel(key taskKey) {
	s.mu.Lock()
	if t, ok := s.byKey[key]; ok {
		heap.Remove(&s.tasks, t.index)
		delete(s.byKey, key)
	}
	s.mu.Unlock()
}

// cancelSession drops every pending task of a session.
func (s *scheduler) cancelSession(id core.SessionID) {
	for _, k := range []taskKind{taskConnect, taskQRRotate, taskExpire} {
		s.cancel(taskKey{session: id, kind: k})
	}
}

func (s *scheduler) run(stop, done chan struct{}) {
	defer close(done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := time.Now()
		var due []*task
		for len(s.tasks) > 0 && !s.tasks[0].at.After(now) {
			t := heap.Pop(&s.tasks).(*task)
			delete(s.byKey, t.key)
			due = append(due, t)
		}
		wait := time.Hour
		if len(s.tasks) > 0 {
			wait = s.tasks[0].at.Sub(now)
		}
		s.running.Add(len(due))
		s.mu.Unlock()
		for _, t := range due {
			go func(fn func()) {
				defer s.running.Done()
				fn()
			}(t.fn)
		}
		timer.Reset(wait)
		select {
		case <-stop:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

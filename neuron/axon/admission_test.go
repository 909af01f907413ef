package axon

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/opentensor/bittensor-go/internal/testing/eventually"
	"github.com/opentensor/bittensor-go/neuron/internal/fixture"
	"github.com/opentensor/bittensor-go/neuron/internal/peertest"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	bittensorpb "github.com/opentensor/bittensor-go/proto"
)

func tapOK(t *testing.T, a *admission, ctx context.Context) (context.Context, *ticket) {
	t.Helper()
	ctx, err := a.tap(ctx, nil)
	if err != nil {
		t.Fatalf("tap: %v", err)
	}
	return ctx, ctx.Value(ticketKey{}).(*ticket)
}

// waitInFlight waits (bounded) until n RPCs are admitted: a stream's end
// releases its admission from a goroutine of its own.
func waitInFlight(t *testing.T, a *admission, n int64) {
	t.Helper()
	eventually.True(t, 5*time.Second, func() bool { return a.inFlight() == n }, "%d RPCs admitted", n)
}

func TestAdmissionTapBound(t *testing.T) {
	a := newAdmission(1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tapOK(t, a, ctx)
	tapOK(t, a, ctx)
	_, err := a.tap(ctx, nil)
	peertest.WantStatus(t, err, codes.ResourceExhausted, "axon: busy: 1 requests running and 1 queued")
	if a.inFlight() != 2 {
		t.Fatalf("in flight = %d after a refusal, want 2", a.inFlight())
	}
}

// TestAdmissionReleasesOnce drives one ticket through each order of events
// gRPC can produce and checks that its admission comes back exactly once.
func TestAdmissionReleasesOnce(t *testing.T) {
	a := newAdmission(4, 0)
	bg := context.Background()

	t.Run("handled: End releases, the stream's end does not again", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		ctx, tk := tapOK(t, a, ctx)
		a.HandleRPC(ctx, &stats.Begin{})
		cancel()                   // the client cancels while the handler runs
		tk.release(ticketAdmitted) // what the stream's end does: nothing now
		if a.inFlight() != 1 {
			t.Fatalf("in flight = %d while the handler may still hold the request, want 1", a.inFlight())
		}
		a.HandleRPC(ctx, &stats.End{})
		a.HandleRPC(ctx, &stats.End{})
		if a.inFlight() != 0 {
			t.Fatalf("in flight = %d after End, want 0", a.inFlight())
		}
	})
	t.Run("never handled: the stream's end releases", func(t *testing.T) {
		ctx, cancel := context.WithCancel(bg)
		ctx, _ = tapOK(t, a, ctx)
		a.HandleRPC(ctx, &stats.End{}) // an End without Begin releases nothing
		if a.inFlight() != 1 {
			t.Fatalf("in flight = %d, want 1", a.inFlight())
		}
		cancel()
		waitInFlight(t, a, 0)
		a.HandleRPC(ctx, &stats.Begin{}) // too late: the ticket is spent
		a.HandleRPC(ctx, &stats.End{})
		if a.inFlight() != 0 {
			t.Fatalf("in flight = %d after a late Begin and End, want 0", a.inFlight())
		}
	})
	t.Run("other RPCs are ignored", func(t *testing.T) {
		a.HandleRPC(bg, &stats.End{})
		if a.inFlight() != 0 {
			t.Fatalf("in flight = %d, want 0", a.inFlight())
		}
	})
}

func TestAdmissionTurns(t *testing.T) {
	a := newAdmission(1, 1)
	ctx := context.Background()
	entered, leave := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := a.interceptor(ctx, nil, nil, func(context.Context, any) (any, error) {
			close(entered)
			<-leave
			return nil, nil
		})
		first <- err
	}()
	<-entered
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	_, err := a.interceptor(cctx, nil, nil, func(context.Context, any) (any, error) { ran = true; return nil, nil })
	if status.Code(err) != codes.Canceled || ran {
		t.Fatalf("waiting for the turn with a cancelled context = %v (ran %v), want CANCELED", err, ran)
	}
	close(leave)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if _, err := a.interceptor(ctx, nil, nil, func(context.Context, any) (any, error) { ran = true; return nil, nil }); err != nil || !ran {
		t.Fatalf("after the turn was given back: %v, ran %v", err, ran)
	}
}

// TestAdmissionOverTheWire checks, with real streams, that every way an RPC
// can end gives its admission back: an answer, a caller that cancels while
// its request runs or waits for a turn, and a method the server does not have.
func TestAdmissionOverTheWire(t *testing.T) {
	cfg := AxonConfig()
	cfg.MaxConcurrent, cfg.MaxQueued = 1, 1
	srv := &gatedEcho{entered: make(chan struct{}, 1), release: make(chan struct{})}
	p := startPlumbing(t, cfg, srv)
	cc, client, adm := p.conn, p.client, p.admission
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := fixture.Key(t, 1)
	now := time.Now().UnixNano()

	// A running request whose caller cancels.
	runCtx, cancelRun := context.WithCancel(ctx)
	running := make(chan error, 1)
	go func() {
		_, err := client.Forward(runCtx, signedRequest(t, key, now))
		running <- err
	}()
	<-srv.entered
	// A second request waits for the turn, and its caller gives up.
	waitCtx, cancelWait := context.WithCancel(ctx)
	waiting := make(chan error, 1)
	go func() {
		_, err := client.Forward(waitCtx, signedRequest(t, key, now+1))
		waiting <- err
	}()
	waitInFlight(t, adm, 2)
	_, err := client.Forward(ctx, signedRequest(t, key, now+2))
	peertest.WantStatus(t, err, codes.ResourceExhausted, "axon: busy: 1 requests running and 1 queued")
	cancelWait()
	if err := <-waiting; status.Code(err) != codes.Canceled {
		t.Fatalf("waiting request = %v, want CANCELED", err)
	}
	waitInFlight(t, adm, 1)
	cancelRun()
	if err := <-running; status.Code(err) != codes.Canceled {
		t.Fatalf("running request = %v, want CANCELED", err)
	}
	waitInFlight(t, adm, 0)

	// A method this server does not have never reaches a handler.
	err = cc.Invoke(ctx, "/Bittensor/NoSuchMethod", &bittensorpb.TensorMessage{}, new(bittensorpb.TensorMessage))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown method = %v, want UNIMPLEMENTED", err)
	}
	waitInFlight(t, adm, 0)

	// Both places are free: two requests are admitted again.
	srv.entered = nil
	for i := range int64(2) {
		if _, err := client.Forward(ctx, signedRequest(t, key, now+3+i)); err != nil {
			t.Fatalf("request after the cancellations: %v", err)
		}
	}
	waitInFlight(t, adm, 0)
}

func TestLimitListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := newLimitListener(inner, 1)
	defer lis.Close()
	accepted := make(chan net.Conn)
	go func() {
		defer close(accepted)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// refused checks that the server closed c without returning it.
	refused := func(c net.Conn) {
		t.Helper()
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read on a connection over the bound = %v, want it closed by the server", err)
		}
	}
	dial()
	first := <-accepted
	refused(dial()) // over the bound
	// Closing the first frees its place, once, however often it is closed.
	first.Close()
	first.Close()
	dial()
	second := <-accepted
	defer second.Close()
	refused(dial()) // over the bound again
	if n := lis.(*limitListener).open.Load(); n != 1 {
		t.Fatalf("open = %d, want 1", n)
	}
}

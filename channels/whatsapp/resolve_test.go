package whatsapp

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"
)

func TestResolveCacheExpiresAndStaysBounded(t *testing.T) {
	c := newResolveCache(10, time.Hour)
	j := types.NewJID("5511999990001", types.DefaultUserServer)
	c.put("5511999990001", j)
	got, ok := c.get("5511999990001")
	require.True(t, ok)
	require.Equal(t, j, got)
	_, ok = c.get("5511999990002")
	require.False(t, ok)

	for i := range 100 {
		c.put(fmt.Sprintf("55119%08d", i), j)
		require.LessOrEqual(t, len(c.entries), 10)
	}

	expired := newResolveCache(10, -time.Second)
	expired.put("5511999990001", j)
	_, ok = expired.get("5511999990001")
	require.False(t, ok, "an expired answer is asked again")
}

func TestNewMessageIDHasWhatsAppWebShape(t *testing.T) {
	p := &Provider{}
	seen := map[string]bool{}
	for range 1000 {
		id := string(p.NewMessageID())
		require.Regexp(t, regexp.MustCompile(`^3EB0[0-9A-F]{18}$`), id)
		require.False(t, seen[id])
		seen[id] = true
	}
}

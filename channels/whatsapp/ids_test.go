package whatsapp

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"

	"github.com/28web/hub/channels/core"
)

func TestNormalizeNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+55 (11) 99999-0001", "5511999990001"},
		{"5511999990001", "5511999990001"},
		{"0055 11 99999 0001", "5511999990001"},
		{"+1 415.555.0100", "14155550100"},
		{" +44 20 7946 0958 ", "442079460958"},
	} {
		got, err := NormalizeNumber(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	for _, bad := range []string{"", "abc", "+55 11 9999x0001", "1234", "0119999900011", "+1234567890123456"} {
		_, err := NormalizeNumber(bad)
		require.ErrorIs(t, err, core.ErrInvalid, bad)
	}
}

func TestNumberCandidatesBrazilNinthDigit(t *testing.T) {
	require.Equal(t, []string{"5511999990001", "551199990001"}, numberCandidates("5511999990001"))
	require.Equal(t, []string{"551199990001", "5511999990001"}, numberCandidates("551199990001"))
	// A landline (starts 2-5) has no ninth-digit twin.
	require.Equal(t, []string{"551133330001"}, numberCandidates("551133330001"))
	require.Equal(t, []string{"14155550100"}, numberCandidates("14155550100"))
}

func TestChatIDRoundTrip(t *testing.T) {
	j := types.NewADJID("5511999990001", 0, 3)
	id := chatID(j)
	require.Equal(t, core.ChatID("5511999990001@s.whatsapp.net"), id)
	back, err := parseChat(id)
	require.NoError(t, err)
	require.Equal(t, j.ToNonAD(), back)
	n, err := parseChat("+55 11 99999-0001")
	require.NoError(t, err)
	require.Equal(t, types.NewJID("5511999990001", types.DefaultUserServer), n)
	_, err = parseChat("@@")
	require.ErrorIs(t, err, core.ErrInvalid)
	require.Empty(t, chatID(types.EmptyJID))
}

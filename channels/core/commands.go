package core

// Commands travel on the bus to whichever process owns the session. Each names its topic so that
// publishers and handlers agree without a table elsewhere.

// Command is a typed instruction for a session's owner.
type Command interface {
	// Topic is the bus topic the command is published on.
	Topic() string
	// Session is the session the command is for; the bus keys ordering on it.
	Session() SessionID
}

// Bus topics.
const (
	TopicSendMessage = "commands.send_message"
	// TopicEvents carries every canonical event.
	TopicEvents = "events"
)

// SendMessageCommand announces an accepted message to its session's owner. It carries ids only:
// the message itself (media included) is in the database, which the owner claims it from.
type SendMessageCommand struct {
	SessionID SessionID `json:"sessionId"`
	MessageID MessageID `json:"messageId"`
}

func (SendMessageCommand) Topic() string        { return TopicSendMessage }
func (c SendMessageCommand) Session() SessionID { return c.SessionID }

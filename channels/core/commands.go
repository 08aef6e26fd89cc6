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

// Bus topics of the commands.
const (
	TopicSendMessage   = "commands.send_message"
	TopicCreateSession = "commands.create_session"
	TopicDeleteSession = "commands.delete_session"
	TopicSyncContacts  = "commands.sync_contacts"
	// TopicEvents carries every canonical event.
	TopicEvents = "events"
)

// SendMessageCommand sends one accepted message. Message.ID is already assigned, so redelivery of
// the command re-sends the same message rather than a new one.
type SendMessageCommand struct {
	SessionID SessionID       `json:"sessionId"`
	Message   OutgoingMessage `json:"message"`
}

func (SendMessageCommand) Topic() string        { return TopicSendMessage }
func (c SendMessageCommand) Session() SessionID { return c.SessionID }

// CreateSessionCommand starts a session on its owner.
type CreateSessionCommand struct {
	SessionID SessionID `json:"sessionId"`
}

func (CreateSessionCommand) Topic() string        { return TopicCreateSession }
func (c CreateSessionCommand) Session() SessionID { return c.SessionID }

// DeleteSessionCommand logs out and removes a session on its owner.
type DeleteSessionCommand struct {
	SessionID SessionID `json:"sessionId"`
}

func (DeleteSessionCommand) Topic() string        { return TopicDeleteSession }
func (c DeleteSessionCommand) Session() SessionID { return c.SessionID }

// SyncContactsCommand refreshes a session's contacts from its network.
type SyncContactsCommand struct {
	SessionID SessionID `json:"sessionId"`
}

func (SyncContactsCommand) Topic() string        { return TopicSyncContacts }
func (c SyncContactsCommand) Session() SessionID { return c.SessionID }

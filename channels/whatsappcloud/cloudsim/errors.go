package cloudsim

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// graphError is one Graph API error answer.
type graphError struct {
	status    int
	code      int
	subcode   int
	message   string // full message; derived from code when empty
	details   string // error_data.details; the title when empty
	userTitle string
	userMsg   string
}

func (e *graphError) Error() string {
	return fmt.Sprintf("graph error %d (code %d): %s", e.status, e.code, e.fullMessage())
}

// errorTitles are the titles Meta documents for Cloud API error codes.
var errorTitles = map[int]string{
	1:      "An unknown error occurred",
	2:      "Service temporarily unavailable",
	4:      "Application request limit reached",
	10:     "Permission denied",
	100:    "Invalid parameter",
	190:    "Invalid OAuth access token - Cannot parse access token",
	200:    "Permission denied",
	368:    "Temporarily blocked for policies violations",
	80007:  "Rate limit issues",
	130429: "Rate limit hit",
	131000: "Something went wrong",
	131005: "Access denied",
	131008: "Required parameter is missing",
	131009: "Parameter value is not valid",
	131016: "Service unavailable",
	131021: "Recipient cannot be sender",
	131026: "Message undeliverable",
	131031: "Account has been locked",
	131047: "Re-engagement message",
	131048: "Spam rate limit hit",
	131051: "Unsupported message type",
	131052: "Media download error",
	131053: "Media upload error",
	131056: "(Business Account, Consumer Account) pair rate limit hit",
	132000: "Number of parameters does not match the expected number of params",
	132001: "Template name does not exist in the translation",
	132015: "Template is Paused",
	133010: "Phone number not registered",
}

// defaultDetails are Meta's error_data.details where they say more than the title.
var defaultDetails = map[int]string{
	130429: "Cloud API message throughput has been reached.",
	131026: "Message Undeliverable.",
	131047: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
	131056: "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
}

func errorTitle(code int) string {
	if t, ok := errorTitles[code]; ok {
		return t
	}
	return "Unknown error"
}

func errorDetails(code int) string {
	if d, ok := defaultDetails[code]; ok {
		return d
	}
	return errorTitle(code)
}

func (e *graphError) fullMessage() string {
	switch {
	case e.message != "":
		return e.message
	case e.code == 190:
		return errorTitle(190)
	default:
		return fmt.Sprintf("(#%d) %s", e.code, errorTitle(e.code))
	}
}

func newGraphError(status, code int, details string) *graphError {
	return &graphError{status: status, code: code, details: details}
}

// invalidParam is the 400 (#100) answer; details name the offending field.
func invalidParam(format string, args ...any) *graphError {
	return newGraphError(http.StatusBadRequest, 100, fmt.Sprintf(format, args...))
}

func errInvalidToken() *graphError { return newGraphError(http.StatusUnauthorized, 190, "") }

// unsupportedRequest is Meta's answer for ids that do not exist or cannot be used that way.
func unsupportedRequest(method, id string) *graphError {
	return &graphError{
		status:  http.StatusBadRequest,
		code:    100,
		subcode: 33,
		message: fmt.Sprintf("Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", strings.ToLower(method), id),
	}
}

func unknownPath(path string) *graphError {
	return &graphError{status: http.StatusBadRequest, code: 100, message: "Unknown path components: " + path}
}

type graphErrorBody struct {
	Error graphErrorPayload `json:"error"`
}

type graphErrorPayload struct {
	Message        string         `json:"message"`
	Type           string         `json:"type"`
	Code           int            `json:"code"`
	ErrorSubcode   int            `json:"error_subcode,omitempty"`
	ErrorUserTitle string         `json:"error_user_title,omitempty"`
	ErrorUserMsg   string         `json:"error_user_msg,omitempty"`
	ErrorData      graphErrorData `json:"error_data"`
	FBTraceID      string         `json:"fbtrace_id"`
}

type graphErrorData struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

func (s *Server) writeGraphError(w http.ResponseWriter, r *http.Request, e *graphError) {
	details := e.details
	if details == "" {
		details = errorDetails(e.code)
	}
	body := graphErrorBody{Error: graphErrorPayload{
		Message:        e.fullMessage(),
		Type:           "OAuthException",
		Code:           e.code,
		ErrorSubcode:   e.subcode,
		ErrorUserTitle: e.userTitle,
		ErrorUserMsg:   e.userMsg,
		ErrorData:      graphErrorData{MessagingProduct: "whatsapp", Details: details},
		FBTraceID:      newFBTraceID(),
	}}
	s.log.Info("graph error", slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", e.status), slog.Int("code", e.code), slog.String("details", details))
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Texts in English and Portuguese. The language defaults to the browser's (pt* → Portuguese)
// and the header's toggle switches it (remembered in localStorage: only the language is kept
// there, never a credential).

const texts = {
  en: {
    gateway: "Gateway", skip: "Skip to content", loading: "Loading…",
    "nav.sessions": "Sessions", "nav.analytics": "Health & analytics",
    signOut: "Sign out", "lang.toggle": "Português", "lang.label": "Mudar para português",
    "live.on": "Live", "live.off": "Offline", "live.retry": "Reconnecting…",
    "signin.title": "Sign in", "signin.help": "Enter the gateway's API key (the x-28web-gateway-key value). It is exchanged for a session cookie and not stored by this page.",
    "signin.key": "API key", "signin.submit": "Sign in", "signin.wrong": "Invalid API key.", "signin.failed": "Sign-in failed: {0}",
    "sessions.title": "Sessions", "sessions.none": "No sessions yet.", "sessions.create": "New session",
    "sessions.id": "Session id", "sessions.idHelp": "Letters, digits, - and _ (up to 64).", "sessions.channel": "Channel",
    "sessions.createBtn": "Create", "sessions.status": "Status", "sessions.account": "Account", "sessions.updated": "Updated",
    "sessions.actions": "Actions", "sessions.open": "Open", "sessions.delete": "Delete", "sessions.confirmDelete": "Delete session {0}? Queued messages are failed.",
    "sessions.deleted": "Session {0} deleted.", "sessions.created": "Session {0} created.",
    "session.back": "All sessions", "session.pair": "Pair this session", "session.scan": "Scan this QR code with WhatsApp on the phone (Linked devices → Link a device).",
    "session.qrAlt": "QR code to pair session {0}", "session.expiresIn": "Refreshes in {0} s", "session.qrWaiting": "Waiting for a QR code…",
    "session.code": "Or link with a phone number", "session.phone": "Phone number (international)", "session.getCode": "Get pairing code",
    "session.codeIs": "Enter this code on the phone: {0}", "session.connected": "Connected as {0}",
    "session.delete": "Delete session", "session.cloudNote": "This channel is paired with its credentials, not a QR code.",
    "status.connecting": "connecting", "status.qr_code": "waiting for QR scan", "status.connected": "connected", "status.disconnected": "disconnected",
    "status.logged_out": "logged out", "status.banned": "banned", "status.failed": "failed", "status.deleted": "deleted",
    "messages.title": "Messages", "messages.none": "No messages yet.", "messages.in": "Received", "messages.out": "Sent",
    "messages.to": "To (phone number or chat id)", "messages.text": "Message", "messages.file": "File (optional)",
    "messages.send": "Send", "messages.sending": "Sending…", "messages.accepted": "Message queued.", "messages.needText": "Write a message or choose a file.",
    "messages.tooBig": "The file is too large (at most {0} MB).", "messages.refresh": "Refresh",
    "tick.queued": "Queued", "tick.sent": "Sent", "tick.delivered": "Delivered", "tick.read": "Read", "tick.failed": "Failed", "tick.received": "Received",
    "webhooks.title": "Webhooks", "webhooks.none": "No webhook endpoints for this session.", "webhooks.url": "Endpoint URL",
    "webhooks.add": "Add endpoint", "webhooks.added": "Endpoint added. Its signing secret: {0}", "webhooks.disabled": "disabled",
    "webhooks.deliveries": "Deliveries", "webhooks.noDeliveries": "No deliveries yet.", "webhooks.event": "Event",
    "webhooks.status": "Status", "webhooks.attempts": "Attempts", "webhooks.response": "Response", "webhooks.when": "When",
    "webhooks.redeliver": "Redeliver", "webhooks.redelivered": "Delivery {0} queued again.", "webhooks.remove": "Remove",
    "webhooks.refresh": "Refresh deliveries", "webhooks.history": "Attempts",
    "analytics.title": "Health & analytics", "analytics.queue": "Queue depth", "analytics.oldest": "Oldest queued",
    "analytics.p50": "Accept → sent p50", "analytics.p95": "Accept → sent p95", "analytics.samples": "{0} messages in 24 h",
    "analytics.webhookRate": "Webhook success (24 h)", "analytics.webhookCounts": "{0} delivered, {1} failed, {2} pending",
    "analytics.byStatus": "Sessions by state", "analytics.today": "Today ({0}, UTC)", "analytics.daily": "Per day",
    "analytics.session": "Session", "analytics.all": "All sessions", "analytics.from": "From", "analytics.to": "To", "analytics.show": "Show",
    "analytics.day": "Day", "analytics.in": "In", "analytics.outMsgs": "Out", "analytics.sent": "Sent", "analytics.delivered": "Delivered",
    "analytics.read": "Read", "analytics.failed": "Failed", "analytics.deliveryRate": "Delivery rate", "analytics.readRate": "Read rate",
    "analytics.firstReply": "Median first reply", "analytics.noDays": "No messages in this period.",
    "analytics.chartMessages": "Messages per day", "analytics.chartRates": "Delivery and read rates", "analytics.components": "Components",
    "analytics.unavailable": "Analytics are not available on this gateway ({0}).", "analytics.refresh": "Refresh",
    "error.generic": "Something went wrong: {0}", "error.signedOut": "Your session ended: sign in again.",
  },
  pt: {
    gateway: "Gateway", skip: "Ir para o conteúdo", loading: "Carregando…",
    "nav.sessions": "Sessões", "nav.analytics": "Saúde e análises",
    signOut: "Sair", "lang.toggle": "English", "lang.label": "Switch to English",
    "live.on": "Ao vivo", "live.off": "Desconectado", "live.retry": "Reconectando…",
    "signin.title": "Entrar", "signin.help": "Informe a chave de API do gateway (o valor de x-28web-gateway-key). Ela é trocada por um cookie de sessão e não fica guardada nesta página.",
    "signin.key": "Chave de API", "signin.submit": "Entrar", "signin.wrong": "Chave de API inválida.", "signin.failed": "Falha ao entrar: {0}",
    "sessions.title": "Sessões", "sessions.none": "Nenhuma sessão ainda.", "sessions.create": "Nova sessão",
    "sessions.id": "Id da sessão", "sessions.idHelp": "Letras, dígitos, - e _ (até 64).", "sessions.channel": "Canal",
    "sessions.createBtn": "Criar", "sessions.status": "Estado", "sessions.account": "Conta", "sessions.updated": "Atualizada",
    "sessions.actions": "Ações", "sessions.open": "Abrir", "sessions.delete": "Excluir", "sessions.confirmDelete": "Excluir a sessão {0}? As mensagens na fila falharão.",
    "sessions.deleted": "Sessão {0} excluída.", "sessions.created": "Sessão {0} criada.",
    "session.back": "Todas as sessões", "session.pair": "Conectar esta sessão", "session.scan": "Escaneie este QR code com o WhatsApp no celular (Aparelhos conectados → Conectar um aparelho).",
    "session.qrAlt": "QR code para conectar a sessão {0}", "session.expiresIn": "Renova em {0} s", "session.qrWaiting": "Aguardando o QR code…",
    "session.code": "Ou conecte com o número de telefone", "session.phone": "Número de telefone (internacional)", "session.getCode": "Obter código de pareamento",
    "session.codeIs": "Digite este código no celular: {0}", "session.connected": "Conectada como {0}",
    "session.delete": "Excluir sessão", "session.cloudNote": "Este canal é conectado com as credenciais, não com QR code.",
    "status.connecting": "conectando", "status.qr_code": "aguardando leitura do QR", "status.connected": "conectada", "status.disconnected": "desconectada",
    "status.logged_out": "deslogada", "status.banned": "banida", "status.failed": "com falha", "status.deleted": "excluída",
    "messages.title": "Mensagens", "messages.none": "Nenhuma mensagem ainda.", "messages.in": "Recebida", "messages.out": "Enviada",
    "messages.to": "Para (telefone ou id do chat)", "messages.text": "Mensagem", "messages.file": "Arquivo (opcional)",
    "messages.send": "Enviar", "messages.sending": "Enviando…", "messages.accepted": "Mensagem na fila.", "messages.needText": "Escreva uma mensagem ou escolha um arquivo.",
    "messages.tooBig": "Arquivo grande demais (no máximo {0} MB).", "messages.refresh": "Atualizar",
    "tick.queued": "Na fila", "tick.sent": "Enviada", "tick.delivered": "Entregue", "tick.read": "Lida", "tick.failed": "Falhou", "tick.received": "Recebida",
    "webhooks.title": "Webhooks", "webhooks.none": "Nenhum endpoint de webhook nesta sessão.", "webhooks.url": "URL do endpoint",
    "webhooks.add": "Adicionar endpoint", "webhooks.added": "Endpoint adicionado. Segredo de assinatura: {0}", "webhooks.disabled": "desativado",
    "webhooks.deliveries": "Entregas", "webhooks.noDeliveries": "Nenhuma entrega ainda.", "webhooks.event": "Evento",
    "webhooks.status": "Estado", "webhooks.attempts": "Tentativas", "webhooks.response": "Resposta", "webhooks.when": "Quando",
    "webhooks.redeliver": "Reenviar", "webhooks.redelivered": "Entrega {0} reenfileirada.", "webhooks.remove": "Remover",
    "webhooks.refresh": "Atualizar entregas", "webhooks.history": "Tentativas",
    "analytics.title": "Saúde e análises", "analytics.queue": "Fila de envio", "analytics.oldest": "Mais antiga na fila",
    "analytics.p50": "Aceite → envio p50", "analytics.p95": "Aceite → envio p95", "analytics.samples": "{0} mensagens em 24 h",
    "analytics.webhookRate": "Sucesso dos webhooks (24 h)", "analytics.webhookCounts": "{0} entregues, {1} falharam, {2} pendentes",
    "analytics.byStatus": "Sessões por estado", "analytics.today": "Hoje ({0}, UTC)", "analytics.daily": "Por dia",
    "analytics.session": "Sessão", "analytics.all": "Todas as sessões", "analytics.from": "De", "analytics.to": "Até", "analytics.show": "Mostrar",
    "analytics.day": "Dia", "analytics.in": "Recebidas", "analytics.outMsgs": "Enviadas", "analytics.sent": "Aceitas pela rede", "analytics.delivered": "Entregues",
    "analytics.read": "Lidas", "analytics.failed": "Falharam", "analytics.deliveryRate": "Taxa de entrega", "analytics.readRate": "Taxa de leitura",
    "analytics.firstReply": "Mediana da 1ª resposta", "analytics.noDays": "Nenhuma mensagem neste período.",
    "analytics.chartMessages": "Mensagens por dia", "analytics.chartRates": "Taxas de entrega e leitura", "analytics.components": "Componentes",
    "analytics.unavailable": "Análises indisponíveis neste gateway ({0}).", "analytics.refresh": "Atualizar",
    "error.generic": "Algo deu errado: {0}", "error.signedOut": "Sua sessão terminou: entre novamente.",
  },
};

const stored = (() => { try { return localStorage.getItem("lang"); } catch { return null; } })();
let lang = stored === "pt" || stored === "en" ? stored
  : ((navigator.language || "en").toLowerCase().startsWith("pt") ? "pt" : "en");

export function getLang() { return lang; }

export function setLang(l) {
  lang = l === "pt" ? "pt" : "en";
  try { localStorage.setItem("lang", lang); } catch { /* private mode */ }
  document.documentElement.lang = lang === "pt" ? "pt-BR" : "en";
}

// t returns the text for key with {0}, {1}… replaced by args.
export function t(key, ...args) {
  const s = texts[lang][key] ?? texts.en[key] ?? key;
  return s.replace(/\{(\d+)\}/g, (_, i) => String(args[Number(i)] ?? ""));
}

// translateStatic fills the elements of the static page marked data-i18n.
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
}

export function locale() { return lang === "pt" ? "pt-BR" : "en"; }

setLang(lang);

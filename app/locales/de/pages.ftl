language-name = Deutsch
layout-secured-by = Geschützt von { $product }
layout-language = Sprache
theme-switch = Farbschema wechseln
theme-light = ☀ Hell
theme-dark = ☾ Dunkel
theme-system = ◐ Farbschema
loading = Wird geladen …
back-to-start = Zurück zur Startseite
sign-in = Anmelden
sign-out = Abmelden
account-settings = Kontoeinstellungen
your-sessions = Ihre Sitzungen

login-title = Anmelden
login-no-account = Noch kein Konto?
login-sign-up = Registrieren
login-forgot = Passwort vergessen?
registration-title = Registrieren
registration-heading = Konto erstellen
registration-have-account = Schon ein Konto?
recovery-title = Konto wiederherstellen
recovery-remembered = Doch wieder eingefallen?
verification-title = E-Mail-Adresse bestätigen
verification-done = Erledigt?
settings-title = Kontoeinstellungen
flow-failed = Das Formular konnte nicht geladen werden. Bitte versuchen Sie es erneut.

section-profile = Profil
section-password = Passwort
section-oidc = Verknüpfte Konten
section-totp = Authenticator-App
section-lookup-secret = Backup-Codes
section-webauthn = Sicherheitsschlüssel
section-passkey = Passkeys

form-show = Anzeigen
form-hide = Verbergen
form-copy = Kopieren
form-copied = Kopiert
form-code-used = verwendet
form-download-codes = Codes herunterladen
webauthn-needs-javascript = Passkeys und Sicherheitsschlüssel brauchen JavaScript, das in diesem Browser ausgeschaltet ist.
webauthn-data-incomplete = Die Passkey-Daten dieses Formulars sind unvollständig. Laden Sie die Seite neu und versuchen Sie es erneut.
webauthn-data-missing = Die Passkey-Daten dieses Formulars fehlen. Laden Sie die Seite neu und versuchen Sie es erneut.
webauthn-data-malformed = Die Passkey-Daten dieses Formulars sind fehlerhaft. Laden Sie die Seite neu und versuchen Sie es erneut.
webauthn-answer-unreadable = Die Antwort des Authentifikators konnte nicht gelesen werden. Versuchen Sie es erneut.
webauthn-not-sent = Das Formular konnte nicht gesendet werden. Versuchen Sie es erneut.
webauthn-not-allowed = Die Anfrage wurde abgebrochen, ist abgelaufen oder wurde vom Authentifikator abgelehnt. Versuchen Sie es erneut.
webauthn-already-registered = Dieser Authentifikator ist für dieses Konto bereits registriert.
webauthn-wrong-address = Die Adresse dieser Seite passt nicht zur Relying Party, für die dieser Server eingerichtet ist (selfservice.methods.*.config.rp).
webauthn-not-supported = Dieser Browser oder Authentifikator unterstützt die Anfrage nicht.
webauthn-failed = Die Anfrage an den Passkey oder Sicherheitsschlüssel ist fehlgeschlagen. Versuchen Sie es erneut.

welcome-title = Willkommen
welcome-heading = Willkommen bei { $product }
welcome-failed = Die Sitzung konnte nicht geprüft werden. Bitte versuchen Sie es erneut.
welcome-signed-in = Sie sind angemeldet als { $name }.
welcome-profile = Ihr Profil
welcome-signed-out = Sie sind nicht angemeldet.
welcome-create-account = Konto erstellen

sessions-failed = Ihre Sitzungen konnten nicht geladen werden. Bitte versuchen Sie es erneut.
sessions-revoke-others = Alle anderen Sitzungen abmelden
sessions-unknown-device = Unbekanntes Gerät
sessions-signed-in-at = { $address } · angemeldet { $at }
sessions-this-device = Dieses Gerät

consent-title = Zugriff erlauben
consent-missing = Diese Anfrage ist abgelaufen oder wurde schon beantwortet. Kehren Sie zur Anwendung zurück und beginnen Sie von vorn.
consent-failed = Diese Anfrage konnte nicht geladen werden. Bitte versuchen Sie es erneut.
consent-heading = { $client } Zugriff auf Ihr Konto erlauben?
consent-logo = Logo von { $client }
consent-account = Sie sind angemeldet als { $account }.
consent-asks = { $client } möchte:
consent-remember = Meine Entscheidung für diese Anwendung merken
consent-allow = Erlauben
consent-deny = Ablehnen
scope-openid = Wissen, wer Sie sind, wenn Sie sich anmelden
scope-email = Ihre E-Mail-Adresse sehen
scope-profile = Ihren Namen sehen
scope-phone = Ihre Telefonnummer sehen
scope-offline = Verbunden bleiben, während Sie weg sind
scope-other = „{ $scope }“ verwenden

error-title = Etwas ist schiefgegangen
error-missing = Den gesuchten Fehler gibt es nicht (mehr).
error-start-page = Startseite

not-found-title = Seite nicht gefunden
not-found-text = Unter dieser Adresse gibt es nichts.
not-found-start = Zur Startseite

mailbox-title = Entwickler-Postfach
mailbox-intro = Nachrichten, die { $product } verschickt hätte, die neuesten zuerst. Nur der Entwicklungsmodus zeigt diese Seite.
mailbox-failed = Das Postfach konnte nicht geladen werden.
mailbox-empty = Noch keine Nachrichten.
mailbox-to = An

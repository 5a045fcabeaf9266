# The pages' own texts.

language-name = English
layout-secured-by = Secured by { $product }
layout-language = Language
theme-switch = Switch colour theme
theme-light = ☀ Light
theme-dark = ☾ Dark
theme-system = ◐ Theme
loading = Loading…
back-to-start = Back to the start
sign-in = Sign in
sign-out = Sign out
account-settings = Account settings
your-sessions = Your sessions

login-title = Sign in
login-no-account = No account yet?
login-sign-up = Sign up
flow-for-client = to continue to { $client }
login-forgot = Forgot your password?
registration-title = Sign up
registration-heading = Create an account
registration-have-account = Already have an account?
recovery-title = Recover your account
recovery-remembered = Remembered it?
verification-title = Verify your email address
verification-done = Done?
settings-title = Account settings
flow-failed = This form could not be loaded. Please try again.

section-profile = Profile
section-password = Password
section-oidc = Linked accounts
section-totp = Authenticator app
section-lookup-secret = Backup codes
section-webauthn = Security keys
section-passkey = Passkeys

form-show = Show
form-hide = Hide
form-copy = Copy
form-copied = Copied
form-code-used = used
form-signing-in-as = Signing in as
form-other-account = Not you?
form-download-codes = Download the codes
webauthn-needs-javascript = Passkeys and security keys need JavaScript, which is off in this browser.
webauthn-data-incomplete = This form's passkey data is incomplete. Reload the page and try again.
webauthn-data-missing = This form's passkey data is missing. Reload the page and try again.
webauthn-data-malformed = This form's passkey data is malformed. Reload the page and try again.
webauthn-answer-unreadable = The authenticator's answer could not be read. Try again.
webauthn-not-sent = The form could not be sent. Try again.
webauthn-not-allowed = The request was cancelled, timed out, or not allowed by the authenticator. Try again.
webauthn-already-registered = This authenticator is already registered for this account.
webauthn-wrong-address = This page's address does not match the relying party this server is configured for (selfservice.methods.*.config.rp).
webauthn-not-supported = This browser or authenticator does not support what was asked.
webauthn-failed = The passkey or security key request failed. Try again.

welcome-title = Welcome
welcome-heading = Welcome to { $product }
welcome-failed = The session could not be checked. Please try again.
welcome-signed-in = You are signed in as { $name }.
welcome-profile = Your profile
welcome-signed-out = You are not signed in.
welcome-create-account = Create an account

sessions-failed = Your sessions could not be loaded. Please try again.
sessions-revoke-others = Sign out all other sessions
sessions-unknown-device = Unknown device
sessions-signed-in-at = { $address } · signed in { $at }
sessions-this-device = This device

consent-title = Allow access
consent-missing = This request expired or was already answered. Go back to the application and start again.
consent-failed = This request could not be loaded. Please try again.
consent-heading = Allow { $client } to use your account?
consent-logo = { $client } logo
consent-account = You are signed in as { $account }.
consent-asks = { $client } asks to:
consent-remember = Remember my choice for this application
consent-allow = Allow
consent-deny = Deny
scope-openid = Know who you are when you sign in
scope-email = See your e-mail address
scope-profile = See your name
scope-phone = See your phone number
scope-offline = Stay connected while you are away
scope-other = Use "{ $scope }"

error-title = Something went wrong
error-missing = The error you are looking for does not exist (any more).
error-start-page = Start page

not-found-title = Page not found
not-found-text = There is nothing at this address.
not-found-start = Go to the start page

mailbox-title = Dev mailbox
mailbox-intro = Messages { $product } would have sent, newest first. Only development mode shows this page.
mailbox-failed = The mailbox could not be loaded.
mailbox-empty = No messages yet.
mailbox-to = To

language-name = Français
layout-secured-by = Sécurisé par { $product }
layout-language = Langue
theme-switch = Changer de thème de couleurs
theme-light = ☀ Clair
theme-dark = ☾ Sombre
theme-system = ◐ Thème
loading = Chargement…
back-to-start = Retour à l’accueil
sign-in = Se connecter
sign-out = Se déconnecter
account-settings = Paramètres du compte
your-sessions = Vos sessions

login-title = Se connecter
login-no-account = Pas encore de compte ?
login-sign-up = S’inscrire
login-forgot = Mot de passe oublié ?
registration-title = S’inscrire
registration-heading = Créer un compte
registration-have-account = Vous avez déjà un compte ?
recovery-title = Récupérer votre compte
recovery-remembered = Ça vous revient ?
verification-title = Vérifier votre adresse e-mail
verification-done = C’est fait ?
settings-title = Paramètres du compte
flow-failed = Le formulaire n’a pas pu être chargé. Veuillez réessayer.

section-profile = Profil
section-password = Mot de passe
section-oidc = Comptes associés
section-totp = Application d’authentification
section-lookup-secret = Codes de secours
section-webauthn = Clés de sécurité
section-passkey = Clés d’accès

form-show = Afficher
form-hide = Masquer
form-copy = Copier
form-copied = Copié
form-code-used = utilisé
form-download-codes = Télécharger les codes
webauthn-needs-javascript = Les clés d’accès et les clés de sécurité nécessitent JavaScript, désactivé dans ce navigateur.
webauthn-data-incomplete = Les données de clé d’accès de ce formulaire sont incomplètes. Rechargez la page et réessayez.
webauthn-data-missing = Les données de clé d’accès de ce formulaire sont absentes. Rechargez la page et réessayez.
webauthn-data-malformed = Les données de clé d’accès de ce formulaire sont mal formées. Rechargez la page et réessayez.
webauthn-answer-unreadable = La réponse de l’authentificateur n’a pas pu être lue. Réessayez.
webauthn-not-sent = Le formulaire n’a pas pu être envoyé. Réessayez.
webauthn-not-allowed = La demande a été annulée, a expiré ou a été refusée par l’authentificateur. Réessayez.
webauthn-already-registered = Cet authentificateur est déjà enregistré pour ce compte.
webauthn-wrong-address = L’adresse de cette page ne correspond pas à la partie de confiance pour laquelle ce serveur est configuré (selfservice.methods.*.config.rp).
webauthn-not-supported = Ce navigateur ou cet authentificateur ne prend pas en charge cette demande.
webauthn-failed = La demande à la clé d’accès ou à la clé de sécurité a échoué. Réessayez.

welcome-title = Bienvenue
welcome-heading = Bienvenue sur { $product }
welcome-failed = La session n’a pas pu être vérifiée. Veuillez réessayer.
welcome-signed-in = Vous êtes connecté en tant que { $name }.
welcome-profile = Votre profil
welcome-signed-out = Vous n’êtes pas connecté.
welcome-create-account = Créer un compte

sessions-failed = Vos sessions n’ont pas pu être chargées. Veuillez réessayer.
sessions-revoke-others = Déconnecter toutes les autres sessions
sessions-unknown-device = Appareil inconnu
sessions-signed-in-at = { $address } · connecté le { $at }
sessions-this-device = Cet appareil

consent-title = Autoriser l’accès
consent-missing = Cette demande a expiré ou a déjà reçu une réponse. Retournez dans l’application et recommencez.
consent-failed = Cette demande n’a pas pu être chargée. Veuillez réessayer.
consent-heading = Autoriser { $client } à utiliser votre compte ?
consent-logo = Logo de { $client }
consent-account = Vous êtes connecté en tant que { $account }.
consent-asks = { $client } demande à :
consent-remember = Mémoriser mon choix pour cette application
consent-allow = Autoriser
consent-deny = Refuser
scope-openid = Savoir qui vous êtes lorsque vous vous connectez
scope-email = Voir votre adresse e-mail
scope-profile = Voir votre nom
scope-phone = Voir votre numéro de téléphone
scope-offline = Rester connecté en votre absence
scope-other = Utiliser « { $scope } »

error-title = Une erreur s’est produite
error-missing = L’erreur que vous cherchez n’existe pas (ou plus).
error-start-page = Page d’accueil

not-found-title = Page introuvable
not-found-text = Il n’y a rien à cette adresse.
not-found-start = Aller à l’accueil

mailbox-title = Boîte mail de développement
mailbox-intro = Messages que { $product } aurait envoyés, les plus récents d’abord. Seul le mode développement affiche cette page.
mailbox-failed = La boîte n’a pas pu être chargée.
mailbox-empty = Aucun message pour l’instant.
mailbox-to = À

language-name = Español
layout-secured-by = Protegido por { $product }
layout-language = Idioma
theme-switch = Cambiar el tema de colores
theme-light = ☀ Claro
theme-dark = ☾ Oscuro
theme-system = ◐ Tema
loading = Cargando…
back-to-start = Volver al inicio
sign-in = Iniciar sesión
sign-out = Cerrar sesión
account-settings = Ajustes de la cuenta
your-sessions = Tus sesiones

login-title = Iniciar sesión
login-no-account = ¿Aún no tienes cuenta?
login-sign-up = Registrarse
login-forgot = ¿Has olvidado tu contraseña?
registration-title = Registrarse
registration-heading = Crear una cuenta
registration-have-account = ¿Ya tienes una cuenta?
recovery-title = Recuperar tu cuenta
recovery-remembered = ¿Ya te acuerdas?
verification-title = Verificar tu dirección de correo electrónico
verification-done = ¿Listo?
settings-title = Ajustes de la cuenta
flow-failed = No se pudo cargar el formulario. Inténtalo de nuevo.

section-profile = Perfil
section-password = Contraseña
section-oidc = Cuentas vinculadas
section-totp = Aplicación de autenticación
section-lookup-secret = Códigos de respaldo
section-webauthn = Llaves de seguridad
section-passkey = Llaves de acceso

form-show = Mostrar
form-hide = Ocultar
form-copy = Copiar
form-copied = Copiado
form-code-used = usado
form-download-codes = Descargar los códigos
webauthn-needs-javascript = Las llaves de acceso y de seguridad necesitan JavaScript, que está desactivado en este navegador.
webauthn-data-incomplete = Los datos de llave de acceso de este formulario están incompletos. Recarga la página e inténtalo de nuevo.
webauthn-data-missing = Faltan los datos de llave de acceso de este formulario. Recarga la página e inténtalo de nuevo.
webauthn-data-malformed = Los datos de llave de acceso de este formulario están mal formados. Recarga la página e inténtalo de nuevo.
webauthn-answer-unreadable = No se pudo leer la respuesta del autenticador. Inténtalo de nuevo.
webauthn-not-sent = No se pudo enviar el formulario. Inténtalo de nuevo.
webauthn-not-allowed = La solicitud se canceló, caducó o el autenticador no la permitió. Inténtalo de nuevo.
webauthn-already-registered = Este autenticador ya está registrado para esta cuenta.
webauthn-wrong-address = La dirección de esta página no coincide con la parte confiante para la que está configurado este servidor (selfservice.methods.*.config.rp).
webauthn-not-supported = Este navegador o autenticador no admite lo que se ha pedido.
webauthn-failed = La solicitud a la llave de acceso o de seguridad ha fallado. Inténtalo de nuevo.

welcome-title = Bienvenida
welcome-heading = Te damos la bienvenida a { $product }
welcome-failed = No se pudo comprobar la sesión. Inténtalo de nuevo.
welcome-signed-in = Has iniciado sesión como { $name }.
welcome-profile = Tu perfil
welcome-signed-out = No has iniciado sesión.
welcome-create-account = Crear una cuenta

sessions-failed = No se pudieron cargar tus sesiones. Inténtalo de nuevo.
sessions-revoke-others = Cerrar todas las demás sesiones
sessions-unknown-device = Dispositivo desconocido
sessions-signed-in-at = { $address } · sesión iniciada el { $at }
sessions-this-device = Este dispositivo

consent-title = Permitir el acceso
consent-missing = Esta solicitud ha caducado o ya se respondió. Vuelve a la aplicación y empieza de nuevo.
consent-failed = No se pudo cargar esta solicitud. Inténtalo de nuevo.
consent-heading = ¿Permitir que { $client } use tu cuenta?
consent-logo = Logotipo de { $client }
consent-account = Has iniciado sesión como { $account }.
consent-asks = { $client } pide:
consent-remember = Recordar mi elección para esta aplicación
consent-allow = Permitir
consent-deny = Denegar
scope-openid = Saber quién eres cuando inicias sesión
scope-email = Ver tu dirección de correo electrónico
scope-profile = Ver tu nombre
scope-phone = Ver tu número de teléfono
scope-offline = Mantener el acceso mientras no estás
scope-other = Usar «{ $scope }»

error-title = Algo ha salido mal
error-missing = El error que buscas no existe (o ya no existe).
error-start-page = Página de inicio

not-found-title = Página no encontrada
not-found-text = No hay nada en esta dirección.
not-found-start = Ir a la página de inicio

mailbox-title = Buzón de desarrollo
mailbox-intro = Mensajes que { $product } habría enviado, los más recientes primero. Solo el modo de desarrollo muestra esta página.
mailbox-failed = No se pudo cargar el buzón.
mailbox-empty = Aún no hay mensajes.
mailbox-to = Para

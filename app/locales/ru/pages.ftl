language-name = Русский
layout-secured-by = Под защитой { $product }
layout-language = Язык
theme-switch = Сменить цветовую тему
theme-light = ☀ Светлая
theme-dark = ☾ Тёмная
theme-system = ◐ Тема
loading = Загрузка…
back-to-start = На главную
sign-in = Войти
sign-out = Выйти
account-settings = Настройки учётной записи
your-sessions = Ваши сеансы

login-title = Вход
login-no-account = Ещё нет учётной записи?
login-sign-up = Зарегистрироваться
login-forgot = Забыли пароль?
registration-title = Регистрация
registration-heading = Создать учётную запись
registration-have-account = Уже есть учётная запись?
recovery-title = Восстановление доступа
recovery-remembered = Вспомнили?
verification-title = Подтверждение адреса электронной почты
verification-done = Готово?
settings-title = Настройки учётной записи
flow-failed = Не удалось загрузить форму. Попробуйте ещё раз.

section-profile = Профиль
section-password = Пароль
section-oidc = Связанные учётные записи
section-totp = Приложение-аутентификатор
section-lookup-secret = Резервные коды
section-webauthn = Ключи безопасности
section-passkey = Ключи доступа

form-show = Показать
form-hide = Скрыть
form-copy = Копировать
form-copied = Скопировано
form-code-used = использован
form-download-codes = Скачать коды
webauthn-needs-javascript = Для ключей доступа и ключей безопасности нужен JavaScript, а в этом браузере он выключен.
webauthn-data-incomplete = Данные ключа доступа в этой форме неполные. Обновите страницу и попробуйте ещё раз.
webauthn-data-missing = В этой форме нет данных ключа доступа. Обновите страницу и попробуйте ещё раз.
webauthn-data-malformed = Данные ключа доступа в этой форме повреждены. Обновите страницу и попробуйте ещё раз.
webauthn-answer-unreadable = Не удалось прочитать ответ аутентификатора. Попробуйте ещё раз.
webauthn-not-sent = Не удалось отправить форму. Попробуйте ещё раз.
webauthn-not-allowed = Запрос отменён, истёк или отклонён аутентификатором. Попробуйте ещё раз.
webauthn-already-registered = Этот аутентификатор уже зарегистрирован для этой учётной записи.
webauthn-wrong-address = Адрес этой страницы не совпадает с проверяющей стороной, для которой настроен сервер (selfservice.methods.*.config.rp).
webauthn-not-supported = Этот браузер или аутентификатор не поддерживает такой запрос.
webauthn-failed = Запрос к ключу доступа или ключу безопасности не удался. Попробуйте ещё раз.

welcome-title = Добро пожаловать
welcome-heading = Добро пожаловать в { $product }
welcome-failed = Не удалось проверить сеанс. Попробуйте ещё раз.
welcome-signed-in = Вы вошли как { $name }.
welcome-profile = Ваш профиль
welcome-signed-out = Вы не вошли в систему.
welcome-create-account = Создать учётную запись

sessions-failed = Не удалось загрузить сеансы. Попробуйте ещё раз.
sessions-revoke-others = Завершить все другие сеансы
sessions-unknown-device = Неизвестное устройство
sessions-signed-in-at = { $address } · вход { $at }
sessions-this-device = Это устройство

consent-title = Разрешить доступ
consent-missing = Срок действия запроса истёк, или на него уже ответили. Вернитесь в приложение и начните заново.
consent-failed = Не удалось загрузить запрос. Попробуйте ещё раз.
consent-heading = Разрешить { $client } пользоваться вашей учётной записью?
consent-logo = Логотип { $client }
consent-account = Вы вошли как { $account }.
consent-asks = { $client } запрашивает:
consent-remember = Запомнить мой выбор для этого приложения
consent-allow = Разрешить
consent-deny = Отклонить
scope-openid = Знать, кто вы, когда вы входите
scope-email = Видеть ваш адрес электронной почты
scope-profile = Видеть ваше имя
scope-phone = Видеть ваш номер телефона
scope-offline = Сохранять доступ, пока вы не в сети
scope-other = Использовать «{ $scope }»

error-title = Что-то пошло не так
error-missing = Такой ошибки нет (или уже нет).
error-start-page = Главная страница

not-found-title = Страница не найдена
not-found-text = По этому адресу ничего нет.
not-found-start = На главную страницу

mailbox-title = Почтовый ящик разработчика
mailbox-intro = Письма, которые отправил бы { $product }, сначала новые. Эта страница есть только в режиме разработки.
mailbox-failed = Не удалось загрузить почтовый ящик.
mailbox-empty = Писем пока нет.
mailbox-to = Кому

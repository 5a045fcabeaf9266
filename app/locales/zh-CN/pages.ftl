language-name = 简体中文
layout-secured-by = 由 { $product } 提供安全保护
layout-language = 语言
theme-switch = 切换配色
theme-light = ☀ 浅色
theme-dark = ☾ 深色
theme-system = ◐ 配色
loading = 正在加载……
back-to-start = 返回首页
sign-in = 登录
sign-out = 退出登录
account-settings = 账户设置
your-sessions = 您的会话

login-title = 登录
login-no-account = 还没有账户？
login-sign-up = 注册
login-forgot = 忘记密码？
registration-title = 注册
registration-heading = 创建账户
registration-have-account = 已有账户？
recovery-title = 恢复您的账户
recovery-remembered = 想起来了？
verification-title = 验证您的电子邮件地址
verification-done = 完成了？
settings-title = 账户设置
flow-failed = 无法加载表单，请重试。

section-profile = 个人资料
section-password = 密码
section-oidc = 已关联的账户
section-totp = 身份验证器应用
section-lookup-secret = 备用码
section-webauthn = 安全密钥
section-passkey = 通行密钥

form-show = 显示
form-hide = 隐藏
form-copy = 复制
form-copied = 已复制
form-code-used = 已使用
form-download-codes = 下载备用码
webauthn-needs-javascript = 通行密钥和安全密钥需要 JavaScript，但此浏览器已将其关闭。
webauthn-data-incomplete = 此表单的通行密钥数据不完整。请刷新页面后重试。
webauthn-data-missing = 此表单缺少通行密钥数据。请刷新页面后重试。
webauthn-data-malformed = 此表单的通行密钥数据格式有误。请刷新页面后重试。
webauthn-answer-unreadable = 无法读取身份验证器的响应。请重试。
webauthn-not-sent = 无法提交表单。请重试。
webauthn-not-allowed = 请求已取消、超时或被身份验证器拒绝。请重试。
webauthn-already-registered = 此身份验证器已为该账户注册。
webauthn-wrong-address = 此页面的地址与服务器配置的依赖方不符（selfservice.methods.*.config.rp）。
webauthn-not-supported = 此浏览器或身份验证器不支持该请求。
webauthn-failed = 通行密钥或安全密钥请求失败。请重试。

welcome-title = 欢迎
welcome-heading = 欢迎使用 { $product }
welcome-failed = 无法检查会话，请重试。
welcome-signed-in = 您已以 { $name } 的身份登录。
welcome-profile = 您的个人资料
welcome-signed-out = 您尚未登录。
welcome-create-account = 创建账户

sessions-failed = 无法加载您的会话，请重试。
sessions-revoke-others = 退出所有其他会话
sessions-unknown-device = 未知设备
sessions-signed-in-at = { $address } · 登录于 { $at }
sessions-this-device = 本设备

consent-title = 允许访问
consent-missing = 此请求已过期或已得到答复。请返回应用重新开始。
consent-failed = 无法加载此请求，请重试。
consent-heading = 允许 { $client } 使用您的账户？
consent-logo = { $client } 的标志
consent-account = 您已以 { $account } 的身份登录。
consent-asks = { $client } 请求：
consent-remember = 记住我对此应用的选择
consent-allow = 允许
consent-deny = 拒绝
scope-openid = 在您登录时知道您是谁
scope-email = 查看您的电子邮件地址
scope-profile = 查看您的姓名
scope-phone = 查看您的电话号码
scope-offline = 在您离开时保持连接
scope-other = 使用“{ $scope }”

error-title = 出错了
error-missing = 您要找的错误不存在（或已不存在）。
error-start-page = 首页

not-found-title = 找不到页面
not-found-text = 此地址没有内容。
not-found-start = 前往首页

mailbox-title = 开发邮箱
mailbox-intro = { $product } 本应发送的邮件，最新的在前。只有开发模式会显示此页面。
mailbox-failed = 无法加载邮箱。
mailbox-empty = 暂无邮件。
mailbox-to = 收件人

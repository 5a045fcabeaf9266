# Flow messages by Kratos message id: msg-<id>. Context values arrive as variables named as
# in the message's `context`.

msg-1010001 = Sign in
msg-1010002 = Sign in with { $provider }
msg-1010003 = Please confirm this action by verifying that it is you.
msg-1010004 = Please complete the second authentication challenge.
msg-1010006 = Authentication code
msg-1010007 = Backup recovery code
msg-1010008 = Sign in with a hardware key
msg-1010009 = Use Authenticator
msg-1010010 = Use backup recovery code
msg-1010013 = Continue
msg-1010016 = You tried to sign in with "{ $duplicate_identifier }", but that email is already used by another account. Sign in to your account with one of the options below to add your account "{ $duplicate_identifier }" at "{ $provider }" as another way to sign in.
msg-1010017 = Sign in and link
msg-1010018 = Confirm with { $provider }
msg-1010021 = Sign in with passkey
msg-1010022 = Sign in with password
msg-1040001 = Sign up
msg-1040002 = Sign up with { $provider }
msg-1040003 = Continue
msg-1040007 = Sign up with passkey
msg-1050001 = Your changes have been saved!
msg-1050002 = Link { $provider }
msg-1050003 = Unlink { $provider }
msg-1050004 = Unlink TOTP Authenticator App
msg-1050005 = Authenticator app QR code
msg-1050006 = { $secret }
msg-1050007 = Reveal backup recovery codes
msg-1050008 = Generate new backup recovery codes
msg-1050009 = { $secret }
msg-1050010 = These are your back up recovery codes. Please keep them in a safe place!
msg-1050011 = Confirm backup recovery codes
msg-1050012 = Add security key
msg-1050013 = Name of the security key
msg-1050014 = Secret was used at { $used_at }
msg-1050015 = { $codes }
msg-1050016 = Disable this method
msg-1050017 = This is your authenticator app secret. Use it if you can not scan the QR code.
msg-1050018 = Remove security key "{ $display_name }"
msg-1050019 = Add passkey
msg-1050020 = Remove passkey "{ $display_name }"
msg-1059001 = Your account needs a second factor: set up an authenticator app below to continue.
msg-1059002 = Your new address { $address } takes the place of the old one once you verify it: we sent it a code.
msg-1060001 = You successfully recovered your account. Please change your password or set up an alternative sign-in method within the next few minutes.
msg-1060002 = An email containing a recovery link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.
msg-1060003 = An email containing a recovery code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and make sure to use the address you registered with.
msg-1070001 = Password
msg-1070002 = { $title }
msg-1070003 = Save
msg-1070004 = ID
msg-1070005 = Submit
msg-1070006 = Verify code
msg-1070007 = Email
msg-1070008 = Resend code
msg-1070009 = Continue
msg-1070010 = Recovery code
msg-1070011 = Verification code
msg-1080001 = An email containing a verification link has been sent to the email address you provided. If you have not received an email, check the spelling of the address and retry.
msg-1080002 = You successfully verified your email address.
msg-1080003 = An email containing a verification code has been sent to the email address you provided. If you have not received an email, check the spelling of the address and retry.
msg-4000001 = { $reason }
msg-4000002 = Property { $property } is missing.
msg-4000003 = Length must be >= { $min_length }, but got { $actual_length }.
msg-4000004 = Does not match pattern "{ $pattern }".
msg-4000005 = The password can not be used because { $reason }.
msg-4000006 = The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.
msg-4000007 = An account with the same identifier (email, phone, username, ...) exists already.
msg-4000008 = The provided authentication code is invalid, please try again.
msg-4000010 = Your account is not active yet. Did you forget to verify your email address?
msg-4000011 = You have no TOTP device set up.
msg-4000012 = This backup recovery code has already been used.
msg-4000013 = You have no WebAuthn device set up.
msg-4000014 = You have no backup recovery codes set up.
msg-4000015 = This account does not exist or has no security key set up.
msg-4000016 = The backup recovery code is not valid.
msg-4000017 = Length must be <= { $max_length }, but got { $actual_length }.
msg-4000018 = Must be >= { $minimum } but found { $actual }.
msg-4000020 = Must be <= { $maximum } but found { $actual }.
msg-4000026 = Expected { $allowed_types } but got { $actual_type }.
msg-4000031 = The password can not be used because it is too similar to the identifier.
msg-4000032 = The password must be at least { $min_length } characters long, but got { $actual_length }.
msg-4000033 = The password must be at most { $max_length } characters long, but got { $actual_length }.
msg-4000039 = The new password must differ from the current one.
msg-4000040 = "{ $value }" is not a valid email address.
msg-4000040-blank = The value is not a valid email address.
msg-4000043 = The provided web authn login is invalid, please try again.
msg-4009001 = { $retry_after_minutes ->
    [one] Too many attempts. Please wait a minute, then try again.
   *[other] Too many attempts. Please wait { $retry_after_minutes } minutes, then try again.
}
msg-4010001 = The flow expired, please try again.
msg-4010002 = Could not find a strategy to handle this request. Please check the submitted method.
msg-4010007 = This flow was already completed. Please start again.
msg-4010011 = This account was disabled.
msg-4060004 = The recovery token is invalid or has already been used. Please retry the flow.
msg-4060006 = The recovery code is invalid or has already been used. Please try again.
msg-4070001 = The verification token is invalid or has already been used. Please retry the flow.
msg-4070006 = The verification code is invalid or has already been used. Please try again.
msg-5000001 = { $reason }

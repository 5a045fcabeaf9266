// The official Ory SDK drives Ward's native (API) flows unchanged: wire compatibility.
import { expect, test } from '@playwright/test';
import { Configuration, FrontendApi } from '@ory/client';
import { publicURL, uniqueEmail } from './env';

const frontend = new FrontendApi(new Configuration({ basePath: publicURL }));
const password = 'correct horse battery staple';

test('native registration, login, whoami and logout through @ory/client', async () => {
  const email = uniqueEmail('sdk');

  const { data: registrationFlow } = await frontend.createNativeRegistrationFlow();
  expect(registrationFlow.type).toBe('api');
  const { data: registered } = await frontend.updateRegistrationFlow({
    flow: registrationFlow.id,
    updateRegistrationFlowBody: { method: 'password', password, traits: { email } },
  });
  expect(registered.identity.traits.email).toBe(email);
  expect(registered.session_token).toMatch(/^ory_st_/);

  const { data: loginFlow } = await frontend.createNativeLoginFlow();
  const wrong = await frontend
    .updateLoginFlow({
      flow: loginFlow.id,
      updateLoginFlowBody: { method: 'password', identifier: email, password: 'wrong password' },
    })
    .catch((error) => error.response);
  expect(wrong.status).toBe(400);
  expect(wrong.data.ui.messages[0].id).toBe(4000006);

  const { data: login } = await frontend.updateLoginFlow({
    flow: loginFlow.id,
    updateLoginFlowBody: { method: 'password', identifier: email, password },
  });
  const token = login.session_token!;
  expect(token).toMatch(/^ory_st_/);
  expect(login.session.identity?.traits.email).toBe(email);

  const { data: session } = await frontend.toSession({ xSessionToken: token });
  expect(session.active).toBe(true);
  expect(session.authentication_methods?.[0].method).toBe('password');

  await frontend.performNativeLogout({ performNativeLogoutBody: { session_token: token } });
  const after = await frontend.toSession({ xSessionToken: token }).catch((error) => error.response);
  expect(after.status).toBe(401);
  expect(after.data.error.id).toBe('session_inactive');
});

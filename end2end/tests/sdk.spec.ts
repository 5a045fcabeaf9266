// The official Ory SDK drives Ward's native (API) flows unchanged: wire compatibility.
import { expect, test } from '@playwright/test';
import { Configuration, CourierApi, FrontendApi, IdentityApi, UiNode, UiNodeInputAttributes } from '@ory/client';
import { adminURL, passkeyPorts, publicURL, uniqueEmail } from './env';
import { password, totp } from './helpers';

const frontend = new FrontendApi(new Configuration({ basePath: publicURL }));

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

// Base URLs with a trailing slash, as Kratos's quickstart writes them: the SDK then asks for
// `//admin/...` and `//self-service/...`, which Ward serves as the plain paths.
test('admin batch create, lookup by external id, all sessions and credential removal through @ory/client', async () => {
  const identities = new IdentityApi(new Configuration({ basePath: `${adminURL}/` }));
  const slashed = new FrontendApi(new Configuration({ basePath: `${publicURL}/` }));
  const email = uniqueEmail('batch');
  const externalID = `crm-${email}`;

  const { data: batch } = await identities.batchPatchIdentities({
    patchIdentitiesBody: {
      identities: [
        {
          patch_id: '00000000-0000-4000-8000-000000000001',
          create: {
            schema_id: 'default',
            traits: { email },
            external_id: externalID,
            credentials: { password: { config: { password } } },
          },
        },
        { create: { schema_id: 'default', traits: { email } } },
      ],
    },
  });
  expect(batch.identities?.[0].action).toBe('create');
  expect(batch.identities?.[0].patch_id).toBe('00000000-0000-4000-8000-000000000001');
  expect(batch.identities?.[1].action).toBe('error');
  expect(batch.identities?.[1].error?.code).toBe(409);
  const id = batch.identities![0].identity!;

  const { data: found } = await identities.getIdentityByExternalID({ externalID });
  expect(found.id).toBe(id);

  const { data: flow } = await slashed.createNativeLoginFlow();
  const { data: login } = await slashed.updateLoginFlow({
    flow: flow.id,
    updateLoginFlowBody: { method: 'password', identifier: email, password },
  });
  const { data: sessions } = await identities.listSessions({ active: true, expand: ['identity'], pageSize: 1000 });
  const mine = sessions.find((session) => session.id === login.session.id);
  expect(mine?.identity?.id).toBe(id);

  // The password is the identity's only way to sign in: Ward keeps it.
  const refused = await identities
    .deleteIdentityCredentials({ id, type: 'password' })
    .catch((error) => error.response);
  expect(refused.status).toBe(400);
  const missing = await identities
    .deleteIdentityCredentials({ id, type: 'totp' })
    .catch((error) => error.response);
  expect(missing.status).toBe(404);
  expect(missing.data.error.code).toBe(404);
});

test('native TOTP set-up and aal2 step-up through @ory/client', async () => {
  const email = uniqueEmail('sdk-totp');
  const { data: registrationFlow } = await frontend.createNativeRegistrationFlow();
  const { data: registered } = await frontend.updateRegistrationFlow({
    flow: registrationFlow.id,
    updateRegistrationFlowBody: { method: 'password', password, traits: { email } },
  });
  const first = registered.session_token!;

  const { data: settings } = await frontend.createNativeSettingsFlow({ xSessionToken: first });
  const secretNode = settings.ui.nodes.find(
    (node) => node.type === 'text' && (node.attributes as { id: string }).id === 'totp_secret_key',
  )!;
  const secret = (secretNode.attributes as { text: { context: { secret: string } } }).text.context
    .secret;
  const { data: saved } = await frontend.updateSettingsFlow({
    flow: settings.id,
    xSessionToken: first,
    updateSettingsFlowBody: { method: 'totp', totp_code: totp(secret) },
  });
  expect(saved.state).toBe('success');

  // A password sign-in is aal1; whoami asks for the second factor.
  const { data: loginFlow } = await frontend.createNativeLoginFlow();
  const { data: login } = await frontend.updateLoginFlow({
    flow: loginFlow.id,
    updateLoginFlowBody: { method: 'password', identifier: email, password },
  });
  const token = login.session_token!;
  const refused = await frontend.toSession({ xSessionToken: token }).catch((error) => error.response);
  expect(refused.status).toBe(403);
  expect(refused.data.error.id).toBe('session_aal2_required');

  const { data: stepUp } = await frontend.createNativeLoginFlow({ aal: 'aal2', xSessionToken: token });
  expect(stepUp.requested_aal).toBe('aal2');
  const { data: done } = await frontend.updateLoginFlow({
    flow: stepUp.id,
    xSessionToken: token,
    updateLoginFlowBody: { method: 'totp', totp_code: totp(secret, Date.now() + 30_000) },
  });
  expect(done.session.authenticator_assurance_level).toBe('aal2');
  const { data: session } = await frontend.toSession({ xSessionToken: token });
  expect(session.authenticator_assurance_level).toBe('aal2');
  expect(session.authentication_methods?.map((method) => method.method)).toEqual(['password', 'totp']);
});

// Passkeys for native apps: API flows carry the ceremony's options as JSON text.
test('native passkey flows carry options a native app can parse, through @ory/client', async () => {
  const passkeys = new FrontendApi(
    new Configuration({ basePath: `http://127.0.0.1:${passkeyPorts.public}` }),
  );
  const attributes = (nodes: UiNode[], name: string) =>
    nodes.map((node) => node.attributes as UiNodeInputAttributes).find((input) => input.name === name);

  // Two-step sign-up: the traits first; the passkey is among the credentials that follow.
  const { data: started } = await passkeys.createNativeRegistrationFlow();
  const registration = await passkeys
    .updateRegistrationFlow({
      flow: started.id,
      updateRegistrationFlowBody: { method: 'profile', traits: { email: 'native-passkey@example.com' } },
    })
    .then(
      () => { throw new Error('the traits alone cannot finish a sign-up'); },
      (error) => error.response.data,
    );
  expect(registration.ui.messages.map((message: { id: number }) => message.id)).toEqual([1040009]);
  const create = JSON.parse(attributes(registration.ui.nodes, 'passkey_create_data')!.value);
  expect(create.credentialOptions.publicKey.rp.id).toBe('localhost');
  expect(create.credentialOptions.publicKey.authenticatorSelection.residentKey).toBe('required');
  expect(typeof create.credentialOptions.publicKey.challenge).toBe('string');

  const { data: login } = await passkeys.createNativeLoginFlow();
  const challenge = JSON.parse(attributes(login.ui.nodes, 'passkey_challenge')!.value);
  expect(challenge.publicKey.rpId).toBe('localhost');
  expect(login.ui.nodes.some((node) => node.type === 'script')).toBe(false);
  expect(attributes(login.ui.nodes, 'passkey_login_trigger')!.onclick).toBeUndefined();
});

test('native passwordless sign-up and sign-in by e-mail code, through @ory/client', async () => {
  const email = uniqueEmail('sdk-code');
  const courier = new CourierApi(new Configuration({ basePath: adminURL }));
  /** The code in the newest mail to `email` of `template`, from the admin API. */
  const codeFrom = async (template: string) => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const { data: messages } = await courier.listCourierMessages({ recipient: email });
      const message = messages.find((candidate) => candidate.template_type === template);
      const code = message?.subject.match(/\d{6}/)?.[0];
      if (code) return code;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no ${template} mail to ${email}`);
  };
  const refusedWith = (error: { response: { status: number; data: any } }) => {
    expect(error.response.status).toBe(400);
    return error.response.data;
  };
  const notYet = () => {
    throw new Error('this step does not finish the flow');
  };

  // Sign-up: the traits, then the code among the credentials, then the code.
  const { data: started } = await frontend.createNativeRegistrationFlow();
  const chosen = await frontend
    .updateRegistrationFlow({
      flow: started.id,
      updateRegistrationFlowBody: { method: 'profile', traits: { email } },
    })
    .then(notYet, refusedWith);
  const sent = await frontend
    .updateRegistrationFlow({
      flow: chosen.id,
      updateRegistrationFlowBody: { method: 'code', traits: { email } },
    })
    .then(notYet, refusedWith);
  expect(sent.state).toBe('sent_email');
  expect(sent.ui.messages[0].id).toBe(1040005);
  const { data: registered } = await frontend.updateRegistrationFlow({
    flow: sent.id,
    updateRegistrationFlowBody: { method: 'code', traits: { email }, code: await codeFrom('registration_code_valid') },
  });
  expect(registered.identity.verifiable_addresses?.[0].verified).toBe(true);
  expect(registered.session_token).toMatch(/^ory_st_/);

  // Sign-in: the identifier, then the code.
  const { data: loginFlow } = await frontend.createNativeLoginFlow();
  const loginSent = await frontend
    .updateLoginFlow({ flow: loginFlow.id, updateLoginFlowBody: { method: 'code', identifier: email } })
    .then(notYet, refusedWith);
  expect(loginSent.state).toBe('sent_email');
  expect(loginSent.ui.messages[0].id).toBe(1010014);
  const { data: login } = await frontend.updateLoginFlow({
    flow: loginFlow.id,
    updateLoginFlowBody: { method: 'code', identifier: email, code: await codeFrom('login_code_valid') },
  });
  expect(login.session_token).toMatch(/^ory_st_/);
  expect(login.session.authentication_methods?.[0].method).toBe('code');
});

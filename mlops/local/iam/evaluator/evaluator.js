// Answers IAM authorization questions for the local cloud, one JSON object per line on stdin,
// one answer per line on stdout, in the order asked.
//
//   {"load": {"identity": {"<principal arn>": [{"name": ..., "policy": {...}}]},
//             "resource": {"<resource arn>": {...policy...}}}}
//     -> {"loaded": true}
//   {"principal": "...", "action": "s3:GetObject", "resource": "arn:...", "account": "...",
//    "resourcePolicy": "<resource arn of a loaded policy>" | null, "context": {...}}
//     -> {"result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"} or {"error": "..."}
//
// The policies are loaded once; each question names the principal (a role ARN, a service
// principal such as cloudwatch.amazonaws.com) and the resource policy that applies.
'use strict'

const readline = require('node:readline')
const path = require('node:path')
const { runSimulation, runUnsafeSimulation } = require('@cloud-copilot/iam-simulate')

// The direct entry point loads the resource policy without a name, which its analysis reads:
// the loader every entry point calls gives an unnamed policy one.
const policyParser = require(path.join(
  path.dirname(require.resolve('@cloud-copilot/iam-policy')), 'parser.js'))
const loadPolicy = policyParser.loadPolicy
policyParser.loadPolicy = (document, metadata) => loadPolicy(document, metadata || { name: 'ResourcePolicy' })

// Condition keys with a name of the request's own choosing after a colon, such as
// kms:EncryptionContext:aws:logs:arn. The validating entry point recognises only the
// "prefix/name" form of such keys (aws:PrincipalTag/Name) and drops these from the request,
// so a question that carries one is asked of the engine directly.
const COLON_TEMPLATED_KEYS = ['kms:encryptioncontext:']

let identityPolicies = {}
let resourcePolicies = {}

async function answer(message) {
  if (message.load) {
    identityPolicies = message.load.identity || {}
    resourcePolicies = message.load.resource || {}
    return { loaded: true }
  }
  const simulation = {
    identityPolicies: identityPolicies[message.principal] || [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action: message.action,
      principal: message.principal,
      resource: { accountId: message.account, resource: message.resource },
      contextVariables: message.context || {}
    }
  }
  if (message.resourcePolicy && resourcePolicies[message.resourcePolicy]) {
    simulation.resourcePolicy = resourcePolicies[message.resourcePolicy]
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { error: JSON.stringify(response.errors) }
  }
  const ignored = response.resultType === 'single' ? response.result.ignoredContextKeys || [] : []
  if (ignored.some((key) => COLON_TEMPLATED_KEYS.some((prefix) => key.toLowerCase().startsWith(prefix)))) {
    return { result: runUnsafeSimulation(simulation, {}) }
  }
  return { result: response.overallResult }
}

const lines = readline.createInterface({ input: process.stdin, terminal: false })
let queue = Promise.resolve()
lines.on('line', (line) => {
  // Answers keep the order of the questions, so the caller can read them one by one.
  queue = queue.then(async () => {
    let reply
    try {
      reply = await answer(JSON.parse(line))
    } catch (error) {
      reply = { error: String((error && error.stack) || error) }
    }
    process.stdout.write(JSON.stringify(reply) + '\n')
  })
})
